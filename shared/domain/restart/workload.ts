/** A workload that consumes a Secret, as restarts address it. */
export interface WorkloadRef {
  readonly kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Pod';
  readonly namespace: string;
  readonly name: string;
}

const KINDS: readonly WorkloadRef['kind'][] = ['Deployment', 'StatefulSet', 'DaemonSet', 'Pod'];

/** `Kind/namespace/name`, as RestartRequested lists workloads. */
export const workloadId = (w: WorkloadRef): string => `${w.kind}/${w.namespace}/${w.name}`;

/** Inverse of workloadId; undefined when the text is not `Kind/namespace/name` with a known kind. */
export function parseWorkloadId(id: string): WorkloadRef | undefined {
  const [kind, namespace, name, ...rest] = id.split('/');
  if (rest.length || !namespace || !name || !KINDS.includes(kind as WorkloadRef['kind'])) return undefined;
  return { kind: kind as WorkloadRef['kind'], namespace, name };
}
