// Small helpers to put workloads into the test clusters quickly with the real kubectl
// (the one built by test/infra). Rollout checks belong to the product, not here.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadInfraEnv } from './env.js';

export type ClusterContext = 'dc1' | 'dc2';

/** Run kubectl against a context of the infra kubeconfig; returns stdout, throws with stderr. */
export function kubectl(context: ClusterContext, args: string[], input?: string): string {
  const env = loadInfraEnv({ require: ['kube'] });
  try {
    return execFileSync(env.kube.kubectl, ['--kubeconfig', env.kube.kubeconfig, '--context', context, ...args], {
      input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 120_000,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl --context ${context} ${args.join(' ')}: ${err.stderr || err.message}`, { cause: e });
  }
}

/** `kubectl apply -f -` of YAML or JSON documents. */
export function apply(context: ClusterContext, manifest: string | object[]): string {
  const input = typeof manifest === 'string' ? manifest : JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifest });
  return kubectl(context, ['apply', '-f', '-'], input);
}

/** A unique, DNS-safe name with a prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Create a namespace labelled rekey-test=true; returns its name. */
export function createTestNamespace(context: ClusterContext, prefix = 'infra'): string {
  const name = uniqueName(prefix);
  apply(context, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'rekey-test': 'true' } } }]);
  return name;
}

export function deleteNamespace(context: ClusterContext, name: string): void {
  kubectl(context, ['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}

export interface WorkloadOptions {
  name: string;
  namespace: string;
  replicas?: number;
  /** pod template annotations (change one to make the workload roll) */
  annotations?: Record<string, string>;
  /** mount these Secrets at /etc/secrets/<name> */
  secretVolumes?: string[];
  /** env vars from these Secrets (envFrom) */
  envFromSecrets?: string[];
}

function podTemplate(o: WorkloadOptions) {
  const vols = (o.secretVolumes ?? []).map((s) => ({ name: `s-${s}`.slice(0, 63), secret: { secretName: s } }));
  return {
    metadata: { labels: { app: o.name }, annotations: o.annotations ?? {} },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'app',
          image: 'registry.invalid/rekey-test:fake', // kwok never pulls it
          volumeMounts: vols.map((v, i) => ({ name: v.name, mountPath: `/etc/secrets/${o.secretVolumes![i]}`, readOnly: true })),
          envFrom: (o.envFromSecrets ?? []).map((s) => ({ secretRef: { name: s } })),
        },
      ],
      volumes: vols,
    },
  };
}

export function deploymentManifest(o: WorkloadOptions): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: o.name, namespace: o.namespace },
    spec: { replicas: o.replicas ?? 2, selector: { matchLabels: { app: o.name } }, template: podTemplate(o) },
  };
}

export function statefulSetManifest(o: WorkloadOptions): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: o.name, namespace: o.namespace },
    spec: { serviceName: o.name, replicas: o.replicas ?? 2, selector: { matchLabels: { app: o.name } }, template: podTemplate(o) },
  };
}

export function daemonSetManifest(o: WorkloadOptions): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: o.name, namespace: o.namespace },
    spec: { selector: { matchLabels: { app: o.name } }, template: podTemplate(o) },
  };
}
