/**
 * Restarting a StatefulSet or DaemonSet whose `updateStrategy` is OnDelete: changing its pod template replaces no
 * pod, so rekey replaces them itself, as an operator would: one pod at a time, the next only once every pod is back
 * and ready, each through the Eviction API so PodDisruptionBudgets are honoured. The controller recreates each
 * evicted pod from the new template (which carries the new versions hash).
 */

/** What the decision needs to know of one pod of the workload. */
export interface OnDeletePod {
  readonly name: string;
  /** The `rekey/versions` annotation the pod was created with (copied from the template). */
  readonly versionsHash?: string;
  readonly ready: boolean;
  readonly terminating: boolean;
}

export const OnDeleteAction = { Wait: 'wait', Evict: 'evict', Done: 'done' } as const;
export type OnDeleteAction = (typeof OnDeleteAction)[keyof typeof OnDeleteAction];

export type OnDeleteStep =
  | { readonly action: typeof OnDeleteAction.Wait; readonly message: string }
  | { readonly action: typeof OnDeleteAction.Evict; readonly pod: string; readonly message: string }
  | { readonly action: typeof OnDeleteAction.Done; readonly message: string };

const ordinalOf = (name: string): number => Number(/-(\d+)$/.exec(name)?.[1] ?? -1);

/**
 * The next move of an OnDelete restart toward `wantHash` with `desired` pods: wait while any pod is missing, not
 * ready or terminating; else evict one pod still on an older template (highest ordinal first, as the StatefulSet
 * controller's own rolling update goes); done when every pod carries `wantHash` and is ready.
 */
export function nextOnDeleteStep(pods: readonly OnDeletePod[], wantHash: string, desired: number): OnDeleteStep {
  const terminating = pods.filter((p) => p.terminating);
  if (terminating.length)
    return { action: OnDeleteAction.Wait, message: `OnDelete: waiting for ${terminating.map((p) => p.name).join(', ')} to terminate` };
  if (pods.length < desired)
    return {
      action: OnDeleteAction.Wait,
      message: `OnDelete: ${pods.length} of ${desired} pods exist, waiting for the controller to recreate the rest`,
    };
  const unready = pods.filter((p) => !p.ready);
  if (unready.length)
    return { action: OnDeleteAction.Wait, message: `OnDelete: waiting for ${unready.map((p) => p.name).join(', ')} to be ready` };
  const outdated = pods
    .filter((p) => p.versionsHash !== wantHash)
    .sort((a, b) => ordinalOf(b.name) - ordinalOf(a.name) || b.name.localeCompare(a.name));
  const next = outdated[0];
  if (!next) return { action: OnDeleteAction.Done, message: `OnDelete: all ${pods.length} pods recreated from the new template and ready` };
  return {
    action: OnDeleteAction.Evict,
    pod: next.name,
    message: `OnDelete: evicting ${next.name} (${outdated.length} of ${pods.length} pods still on the old template)`,
  };
}
