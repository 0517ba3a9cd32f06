import { isRekeyError, NotFoundError } from '../../domain/errors.js';
import { WorkloadResult, type WorkloadOutcome } from '../../domain/restart/outcome.js';
import { rolloutsInFlight } from '../../domain/restart/pace.js';
import { parseWorkloadId, type WorkloadRef } from '../../domain/restart/workload.js';
import { RestartOutcome, type WorkloadControl } from '../../ports/cluster.js';
import type { RestartCheck, RollingWorkload } from '../../ports/restart-checks.js';
import type { Deps } from '../deps.js';
import type { Semaphore } from './coordination.js';
import { readRollouts } from './rollout-watch.js';

/** What one pass over a restart request works with. */
export interface RestartJob {
  readonly control: WorkloadControl;
  readonly deps: Pick<Deps, 'clock' | 'signal'>;
  readonly deadline: Date;
  /** API requests in flight to this cluster, shared with every other restart of the process. */
  readonly requests: Semaphore;
  /** Workloads an earlier run of this request restarted (journal): found already restarted, they count as restarted. */
  readonly restartedEarlier?: ReadonlySet<string>;
}

export interface Advanced {
  readonly check: RestartCheck;
  /** Rollouts started by this pass (the next reading comes sooner). */
  readonly started: number;
  /** Every workload has ended: `check.ended` holds all of them, in the request's order. */
  readonly finished: boolean;
}

const interrupted = (deadline: Date, why: 'deadline' | 'aborted', last: string): string =>
  `${why === 'deadline' ? `not done by ${deadline.toISOString()}` : 'interrupted'}: ${last}`;

type Start = { readonly rolling: RollingWorkload } | { readonly ended: WorkloadOutcome } | { readonly refused: string };

/**
 * Starts one workload's rollout (patch its pod template, or evict a bare pod), once: a retryable refusal (a
 * PodDisruptionBudget refusing an eviction, a conflict, a transient API error) is tried again by the next pass,
 * within the deadline. Holds a request slot of the cluster only while the call is in flight.
 */
async function start(job: RestartJob, request: RestartCheck['request'], ref: WorkloadRef, id: string): Promise<Start> {
  const release = await job.requests.acquire();
  try {
    const outcome = await job.control.restart(ref, request.versionsHash ?? '', new Date(request.at));
    const earlier = outcome === RestartOutcome.NotUpdated && job.restartedEarlier?.has(id);
    return { rolling: { outcome: earlier ? RestartOutcome.Updated : outcome, last: 'rollout not read yet' } };
  } catch (e) {
    if (e instanceof NotFoundError) return { ended: { id, result: WorkloadResult.Missing, message: 'not found' } };
    const message = e instanceof Error ? e.message : String(e);
    if (!isRekeyError(e) || !e.retryable) return { ended: { id, result: WorkloadResult.Failed, message } };
    return { refused: message };
  } finally {
    release();
  }
}

/**
 * One pass over a cluster's restart request, the same whether the worker waits in-process (CLI) or later checks
 * carry on (Lambda): read the rollouts still running (together), end those that ended; at the deadline (or on abort)
 * end everything left as timed out; else start the next workloads while fewer than `rolloutsInFlight` are
 * mid-rollout or refused (a window: the next starts when one ends).
 */
export async function advance(job: RestartJob, check: RestartCheck): Promise<Advanced> {
  const request = check.request;
  const rolling = new Map<string, RollingWorkload>(Object.entries(check.rolling));
  const blocked = new Map<string, string>(Object.entries(check.blocked));
  const ended: WorkloadOutcome[] = [...check.ended];
  const done = new Set(ended.map((o) => o.id));
  const end = (o: WorkloadOutcome) => {
    rolling.delete(o.id);
    blocked.delete(o.id);
    ended.push(o);
    done.add(o.id);
  };

  const refs = [...rolling.keys()].flatMap((id) => {
    const ref = parseWorkloadId(id);
    return ref ? [ref] : [];
  });
  const readings = await readRollouts(job.control, refs, (id) => rolling.get(id)?.last ?? '');
  for (const [id, reading] of readings) {
    const was = rolling.get(id);
    if (!was) continue;
    switch (reading.kind) {
      case 'done':
        end({
          id,
          result: was.outcome === RestartOutcome.Updated ? WorkloadResult.Restarted : WorkloadResult.Unchanged,
          message: reading.message,
        });
        break;
      case 'gone':
        end({ id, result: WorkloadResult.Missing, message: 'deleted while rolling out' });
        break;
      case 'failed':
        end({ id, result: WorkloadResult.Failed, message: reading.message });
        break;
      case 'rolling':
        rolling.set(id, { ...was, last: reading.last });
        break;
      default: {
        const never: never = reading;
        throw new Error(`unknown rollout reading ${JSON.stringify(never)}`);
      }
    }
  }

  const waiting = () => request.workloads.filter((id) => !done.has(id) && !rolling.has(id) && !blocked.has(id));
  const why = job.deps.signal?.aborted ? 'aborted' : job.deps.clock.now() >= job.deadline ? 'deadline' : undefined;
  let started = 0;
  if (why) {
    // A workload whose turn in the window comes after the deadline (or the Lambda's time) is not started any more.
    for (const [id, w] of [...rolling]) end({ id, result: WorkloadResult.TimedOut, message: interrupted(job.deadline, why, w.last) });
    for (const [id, last] of [...blocked]) end({ id, result: WorkloadResult.TimedOut, message: interrupted(job.deadline, why, last) });
    for (const id of waiting()) end({ id, result: WorkloadResult.TimedOut, message: interrupted(job.deadline, why, 'not started') });
  } else {
    const window = rolloutsInFlight(request.workloads.length, request.budget);
    // Refused ones are tried again first (they come first in the request's order); each keeps its slot meanwhile.
    blocked.clear();
    let next = waiting();
    while (next.length > 0) {
      const free = window - rolling.size - blocked.size;
      if (free <= 0) break;
      const batch = next.slice(0, free);
      next = next.slice(free);
      const results = await Promise.all(
        batch.map(async (id) => {
          const ref = parseWorkloadId(id);
          if (!ref) return [id, { ended: { id, result: WorkloadResult.Failed, message: `not a workload id: ${id}` } }] as const;
          return [id, await start(job, request, ref, id)] as const;
        }),
      );
      for (const [id, r] of results) {
        if ('ended' in r) end(r.ended);
        else if ('refused' in r) blocked.set(id, r.refused);
        else {
          rolling.set(id, r.rolling);
          started++;
        }
      }
    }
  }

  const order = new Map(request.workloads.map((id, i) => [id, i]));
  ended.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  const finished = rolling.size === 0 && blocked.size === 0 && waiting().length === 0;
  return { check: { ...check, rolling: Object.fromEntries(rolling), blocked: Object.fromEntries(blocked), ended }, started, finished };
}
