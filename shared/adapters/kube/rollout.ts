import type { RolloutStatus } from '../../ports/cluster.js';

/**
 * Rollout judgements, as `kubectl rollout status` makes them (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go),
 * over structural shapes so they are testable with plain objects. `failed` means waiting longer cannot help.
 */
export interface RolloutJudgement extends RolloutStatus {
  readonly failed?: boolean;
}

interface Meta {
  readonly name?: string;
  readonly generation?: number;
  readonly deletionTimestamp?: unknown;
}
interface Condition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
}

export interface DeploymentLike {
  readonly metadata?: Meta;
  readonly spec?: { readonly replicas?: number; readonly paused?: boolean };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly replicas?: number;
    readonly updatedReplicas?: number;
    readonly availableReplicas?: number;
    readonly conditions?: readonly Condition[];
  };
}

export interface StatefulSetLike {
  readonly metadata?: Meta;
  readonly spec?: {
    readonly replicas?: number;
    readonly updateStrategy?: { readonly type?: string; readonly rollingUpdate?: { readonly partition?: number } };
  };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly readyReplicas?: number;
    readonly updatedReplicas?: number;
    readonly currentRevision?: string;
    readonly updateRevision?: string;
  };
}

export interface DaemonSetLike {
  readonly metadata?: Meta;
  readonly spec?: { readonly updateStrategy?: { readonly type?: string } };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly desiredNumberScheduled?: number;
    readonly updatedNumberScheduled?: number;
    readonly numberAvailable?: number;
  };
}

export interface PodLike {
  readonly metadata?: Meta;
  readonly status?: { readonly phase?: string; readonly conditions?: readonly Condition[] };
}

const waiting = (message: string): RolloutJudgement => ({ done: false, message });
const done = (message: string): RolloutJudgement => ({ done: true, message });
const failed = (message: string): RolloutJudgement => ({ done: false, failed: true, message });

export function deploymentRollout(d: DeploymentLike): RolloutJudgement {
  const generation = d.metadata?.generation ?? 0;
  const s = d.status ?? {};
  if (generation > (s.observedGeneration ?? 0)) return waiting('waiting for the deployment spec update to be observed');
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return failed('deployment exceeded its progress deadline');
  const want = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const held = d.spec?.paused ? ' (held: the deployment is paused)' : '';
  if (updated < want) return waiting(`${updated} of ${want} new replicas have been updated${held}`);
  if ((s.replicas ?? 0) > updated) return waiting(`${(s.replicas ?? 0) - updated} old replicas are pending termination${held}`);
  if ((s.availableReplicas ?? 0) < updated)
    return waiting(`${s.availableReplicas ?? 0} of ${updated} updated replicas are available${held}`);
  return done(`${updated} of ${want} replicas updated and available`);
}

export function statefulSetRollout(s: StatefulSetLike): RolloutJudgement {
  const strategy = s.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy !== 'RollingUpdate') return failed(`updateStrategy ${strategy}: pods are not replaced when the template changes`);
  const st = s.status ?? {};
  const generation = s.metadata?.generation ?? 0;
  if (!st.observedGeneration || generation > st.observedGeneration)
    return waiting('waiting for the statefulset spec update to be observed');
  const want = s.spec?.replicas ?? 1;
  if ((st.readyReplicas ?? 0) < want) return waiting(`${st.readyReplicas ?? 0} of ${want} pods are ready`);
  const partition = s.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) {
    if ((st.updatedReplicas ?? 0) < want - partition)
      return waiting(`partitioned rollout: ${st.updatedReplicas ?? 0} of ${want - partition} new pods have been updated`);
    return done(`partitioned rollout complete (${want - partition} pods updated)`);
  }
  if (st.updateRevision !== st.currentRevision)
    return waiting(`${st.updatedReplicas ?? 0} of ${want} pods at revision ${st.updateRevision ?? '?'}`);
  return done(`${want} pods at revision ${st.updateRevision ?? '?'} and ready`);
}

export function daemonSetRollout(d: DaemonSetLike): RolloutJudgement {
  const strategy = d.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy !== 'RollingUpdate') return failed(`updateStrategy ${strategy}: pods are not replaced when the template changes`);
  const s = d.status ?? {};
  if ((d.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) return waiting('waiting for the daemon set spec update to be observed');
  const want = s.desiredNumberScheduled ?? 0;
  if ((s.updatedNumberScheduled ?? 0) < want) return waiting(`${s.updatedNumberScheduled ?? 0} of ${want} new pods have been updated`);
  if ((s.numberAvailable ?? 0) < want) return waiting(`${s.numberAvailable ?? 0} of ${want} updated pods are available`);
  return done(`${want} pods updated and available`);
}

/** A bare pod after its eviction: gone, or replaced (same name, by whoever owns it) and ready. */
export function podRollout(p: PodLike | undefined): RolloutJudgement {
  if (!p) return done('pod evicted');
  if (p.metadata?.deletionTimestamp) return waiting('pod is terminating');
  const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  return ready ? done('pod is running and ready') : waiting(`pod is ${p.status?.phase ?? 'pending'}, not ready`);
}
