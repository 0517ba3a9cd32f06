import type { EventDetail } from '../../events/details.js';
import type { EventType } from '../domain/events/types.js';
import type { WorkloadOutcome } from '../domain/restart/outcome.js';
import type { RestartOutcome } from './cluster.js';

/** A workload whose rollout was started: how its restart went, and the last reading of its rollout. */
export interface RollingWorkload {
  readonly outcome: RestartOutcome;
  readonly last: string;
}

/**
 * One cluster's restart request part-way: what was started, what is still rolling out, what has ended. The restart
 * worker returns with it instead of waiting for the rollouts, and a later check (the delay queue) carries on from it.
 * Plain JSON (it travels as a message body).
 */
export interface RestartCheck {
  readonly request: EventDetail<typeof EventType.RestartRequested>;
  /**
   * This run of the request. A redelivered request starts another run; for a rotation, the journal's restart entry
   * names the run that goes on, and a check of any other run stops.
   */
  readonly run: string;
  /** When the worker took the request (the deadline without a policy deadline counts from here). */
  readonly startedAt: string;
  /** Rollouts started and not yet ended, by workload id. */
  readonly rolling: Readonly<Record<string, RollingWorkload>>;
  /** Workloads whose start was refused for now (a PodDisruptionBudget, a conflict): the last refusal, retried at each check. */
  readonly blocked: Readonly<Record<string, string>>;
  readonly ended: readonly WorkloadOutcome[];
  /** The wait before the next check, seconds (backs off while nothing changes). */
  readonly checkSeconds: number;
}

/** Brings a restart check back after a delay (Lambda: the delay queue, whose function runs it). */
export interface RestartCheckQueue {
  scheduleRestartCheck(check: RestartCheck, delaySeconds: number): Promise<void>;
}
