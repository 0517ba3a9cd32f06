import type { SecretUse } from '../../ports/cluster.js';

/** The parts of a pod spec that can name a Secret (structural, so plain objects work in tests). */
interface ContainerLike {
  readonly env?: readonly { readonly valueFrom?: { readonly secretKeyRef?: { readonly name?: string } } }[];
  readonly envFrom?: readonly { readonly secretRef?: { readonly name?: string } }[];
}
export interface PodSpecLike {
  readonly volumes?: readonly {
    readonly secret?: { readonly secretName?: string };
    readonly projected?: { readonly sources?: readonly { readonly secret?: { readonly name?: string } }[] };
  }[];
  readonly containers?: readonly ContainerLike[];
  readonly initContainers?: readonly ContainerLike[];
  readonly ephemeralContainers?: readonly ContainerLike[];
}

export type SecretReference = Pick<SecretUse, 'secret' | 'via'>;

/**
 * Every Secret a pod spec reads: volumes, projected volume sources, `env[].valueFrom.secretKeyRef` and
 * `envFrom[].secretRef`, in all containers (init and ephemeral too). One entry per (secret, via).
 */
export function secretReferences(spec: PodSpecLike | undefined): SecretReference[] {
  if (!spec) return [];
  const found = new Map<string, SecretReference>();
  const add = (secret: string | undefined, via: SecretUse['via']) => {
    if (secret) found.set(`${via}\0${secret}`, { secret, via });
  };
  for (const v of spec.volumes ?? []) {
    add(v.secret?.secretName, 'volume');
    for (const s of v.projected?.sources ?? []) add(s.secret?.name, 'projected');
  }
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])]) {
    for (const e of c.env ?? []) add(e.valueFrom?.secretKeyRef?.name, 'env');
    for (const e of c.envFrom ?? []) add(e.secretRef?.name, 'envFrom');
  }
  return [...found.values()];
}
