/**
 * How fast restarts go. Two limits, for two different things:
 *  - API requests: restart patches and evictions that one process sends to one cluster at once, across all its
 *    restarts (load on the API server);
 *  - rollouts: consumers of one restart request (one item's or one rotation's consumers in one cluster) that may be
 *    mid-rollout at once, so a change never rolls every workload of a service at the same moment. A quarter of them,
 *    like a Deployment's default `maxUnavailable` among its pods, and never fewer than 4 (what a small set of
 *    consumers always had). Reloader patches every consumer at once; rekey waits for each rollout and reports it.
 */
export const CLUSTER_REQUEST_CONCURRENCY = 16;
export const MIN_ROLLOUTS_IN_FLIGHT = 4;
export const ROLLOUT_SHARE_IN_FLIGHT = 0.25;

/** How many of `consumers` workloads may be mid-rollout at once; `budget` (the request's own) overrides the default. */
export function rolloutsInFlight(consumers: number, budget?: number): number {
  if (budget !== undefined) return Math.max(1, Math.floor(budget));
  return Math.max(MIN_ROLLOUTS_IN_FLIGHT, Math.ceil(consumers * ROLLOUT_SHARE_IN_FLIGHT));
}

/**
 * Where rollouts are checked later instead of waited for (Lambda): how long the worker itself reads a rollout
 * before it hands the rest to a later check (a rollout done within a second costs no check), and the waits between
 * checks, which back off while nothing changes and start short again when more rollouts start.
 */
export const ROLLOUT_CHECK = { holdMs: 1_000, initialSeconds: 5, factor: 1.6, maxSeconds: 20 } as const;

export const nextCheckSeconds = (seconds: number): number => Math.min(ROLLOUT_CHECK.maxSeconds, Math.round(seconds * ROLLOUT_CHECK.factor));
