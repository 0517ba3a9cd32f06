import { Annotation } from '../../domain/sync/desired.js';
import { isManaged } from '../../domain/sync/secret.js';
import type { DesiredSecret, ObservedSecret } from '../../ports/cluster.js';

/** A Secret as the API returns it (structural: V1Secret fits). `data` values are base64. */
export interface SecretObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly resourceVersion?: string;
  };
  readonly type?: string;
  readonly data?: Readonly<Record<string, string>>;
}

export { isManaged };

export function observedOf(s: SecretObject): ObservedSecret {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  return {
    name: s.metadata?.name ?? '',
    namespace: s.metadata?.namespace ?? '',
    type: s.type ?? 'Opaque',
    data,
    labels: { ...s.metadata?.labels },
    annotations: { ...s.metadata?.annotations },
    ...(s.metadata?.resourceVersion !== undefined && { resourceVersion: s.metadata.resourceVersion }),
  };
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export function secretObjectOf(d: DesiredSecret): SecretObject & { apiVersion: 'v1'; kind: 'Secret' } {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.data)) data[k] = b64(v);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: d.name, namespace: d.namespace, labels: { ...d.labels }, annotations: { ...d.annotations } },
    type: d.type,
    data,
  };
}

/** Entries of `want` whose value differs in `have`; undefined when none. */
function changedEntries(
  want: Readonly<Record<string, string>>,
  have: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

const REKEY_ANNOTATIONS: readonly string[] = Object.values(Annotation);

export type SecretChange =
  | { readonly kind: 'none' }
  /** A Secret's type is immutable: it must be recreated, which rekey refuses to do on its own. */
  | { readonly kind: 'type'; readonly from: string; readonly to: string }
  | { readonly kind: 'patch'; readonly patch: Record<string, unknown> };

/**
 * The JSON merge patch that turns `observed` into `desired`: data keys set or removed (data is exactly the desired
 * data), desired labels and annotations set (others' labels and annotations kept), `metadata.resourceVersion` as a
 * precondition (optimistic concurrency: a concurrent change makes the API answer 409). `none` when nothing differs.
 */
export function secretChange(desired: DesiredSecret, observed: ObservedSecret): SecretChange {
  if (observed.type !== desired.type) return { kind: 'type', from: observed.type, to: desired.type };
  const data: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(desired.data)) if (observed.data[k] !== v) data[k] = b64(v);
  for (const k of Object.keys(observed.data)) if (!Object.hasOwn(desired.data, k)) data[k] = null;
  const labels = changedEntries(desired.labels, observed.labels);
  // A merge patch keeps what it does not name: an annotation of rekey's own that the desired Secret no longer has
  // (the bundle hash once a CA overlap ends) is removed explicitly, or it would stay stale and read as drift.
  const dropped = REKEY_ANNOTATIONS.filter((k) => Object.hasOwn(observed.annotations, k) && !Object.hasOwn(desired.annotations, k));
  const changed = changedEntries(desired.annotations, observed.annotations);
  const annotations: Record<string, string | null> | undefined =
    changed || dropped.length ? { ...changed, ...Object.fromEntries(dropped.map((k) => [k, null])) } : undefined;
  if (!labels && !annotations && Object.keys(data).length === 0) return { kind: 'none' };
  const metadata: Record<string, unknown> = {
    ...(observed.resourceVersion !== undefined && { resourceVersion: observed.resourceVersion }),
    ...(labels && { labels }),
    ...(annotations && { annotations }),
  };
  return { kind: 'patch', patch: { metadata, ...(Object.keys(data).length && { data }) } };
}
