import { randomUUID } from 'node:crypto';
import type { EventDetail } from '../../../events/details.js';
import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { isBadOutcome, WorkloadResult, type WorkloadOutcome } from '../../domain/restart/outcome.js';
import { nextCheckSeconds, ROLLOUT_CHECK } from '../../domain/restart/pace.js';
import { restartDeadline, RestartPhase } from '../../domain/restart/plan.js';
import { isOpenRestart, RestartState, RotationKind, RotationStatus, type RotationRecord } from '../../domain/rotation/record.js';
import { LeafStep } from '../../domain/rotation/machines.js';
import { RestartOutcome, type WorkloadControl } from '../../ports/cluster.js';
import type { RestartCheck } from '../../ports/restart-checks.js';
import type { Deps } from '../deps.js';
import { coordinationOf, laneOf, requestsTo, trustSettled } from './coordination.js';
import { advance, type RestartJob } from './progress.js';
import { updateRotation as updateRecord } from '../rotation/record-update.js';
import { continueRolling } from './planner.js';
import { executeStep, StepExecution } from '../rotation/execute-step.js';
import { nextDelay, pause, POLL, until, WaitInterrupted } from './wait.js';

export { WorkloadResult } from '../../domain/restart/outcome.js';

type RestartRequest = EventDetail<typeof EventType.RestartRequested>;

/**
 * Whether `record` (as the worker has just written its cluster's outcome) is a leaf (or password) rotation whose
 * restart step waits without polling (`Deps.restartOutcomesWake`) for outcomes that are now all in.
 */
function wakesRestartStep(deps: Deps, record: RotationRecord): boolean {
  return (
    deps.restartOutcomesWake === true &&
    record.status === RotationStatus.Running &&
    // The password machine's restart step is the leaf one (same handler, same step name), so it parks the same way.
    (record.kind === RotationKind.Leaf || record.kind === RotationKind.Password) &&
    record.step === LeafStep.Restart &&
    !Object.values(record.restarts).some(isOpenRestart)
  );
}

const restartStepOf = (record: RotationRecord) => ({
  rotationId: record.id,
  inventory: record.inventory,
  item: record.item,
  step: record.step,
  attempt: record.attempt,
});

/** Queues the woken restart step, naming the attempt the worker has just read back. */
async function wakeRestartStep(deps: Deps, record: RotationRecord): Promise<void> {
  if (wakesRestartStep(deps, record)) await deps.queue.enqueue(restartStepOf(record));
}

/**
 * The rest of a leaf rotation once its last restart is in (restart, verify: reads, then one conditional journal
 * write) run here, from the record the worker has just written, instead of queued for the step function: no queued
 * message, no lease claim, and the worker's event goes out with the run's completions. Read-only until that write,
 * it cannot harm a rotation someone else advanced meanwhile (the write then declines). Not while another worker
 * holds the lease. True when the run was recorded (its events with it); on anything else the caller publishes and
 * queues as before, and the step function judges a failure with its retries.
 */
async function runRestartStepHere(deps: Deps, inventory: Inventory, record: RotationRecord, announce: RekeyEvent): Promise<boolean> {
  if (record.kind !== RotationKind.Leaf || !wakesRestartStep(deps, record)) return false;
  if (record.lease && new Date(record.lease.expiresAt) > deps.clock.now()) return false;
  try {
    const result = await executeStep(deps, inventory, restartStepOf(record), { record, announce: [announce] });
    return result === StepExecution.Ran || result === StepExecution.Waiting;
  } catch (e) {
    deps.log.warn('restart step not finished by the restart worker; queued for the step function', {
      rotationId: record.id,
      error: e instanceof Error ? e.message : String(e),
    });
    return false;
  }
}

const listOf = (outcomes: readonly WorkloadOutcome[], result: WorkloadResult) =>
  outcomes.filter((o) => o.result === result).map((o) => o.id);

function summary(outcomes: readonly WorkloadOutcome[]): string {
  const parts = [
    `${listOf(outcomes, WorkloadResult.Restarted).length} restarted`,
    `${listOf(outcomes, WorkloadResult.Unchanged).length} already restarted`,
  ];
  const missing = listOf(outcomes, WorkloadResult.Missing);
  if (missing.length) parts.push(`not found: ${missing.join(', ')}`);
  const bad = outcomes.filter(isBadOutcome);
  if (bad.length) parts.push(bad.map((o) => `${o.id}: ${o.message}`).join('; '));
  return parts.join(', ');
}

/**
 * Records a cluster's outcome (rotations: its journal entry), emits RestartCompleted or RestartFailed and lets the
 * rotation go on (the next rolling cluster, the waiting restart step). Failures are recorded and emitted, not
 * thrown: the rotation step reads them from the journal.
 */
async function finish(
  deps: Deps,
  inventory: Inventory,
  d: RestartRequest,
  startedAt: Date,
  outcomes: readonly WorkloadOutcome[],
  problem?: string,
): Promise<void> {
  const { workloads, versionsHash: hash = '', cluster } = d;
  const failedOnes = outcomes.filter(isBadOutcome);
  const ok = !problem && failedOnes.length === 0;
  const message = problem ?? summary(outcomes);
  const finished = deps.clock.now();
  const base = { inventory: d.inventory, item: d.item, at: finished.toISOString(), ...(d.rotationId && { rotationId: d.rotationId }) };
  const fields = {
    cluster,
    workloads,
    versionsHash: hash,
    restarted: listOf(outcomes, WorkloadResult.Restarted),
    unchanged: listOf(outcomes, WorkloadResult.Unchanged),
    missing: listOf(outcomes, WorkloadResult.Missing),
    durationMs: finished.getTime() - startedAt.getTime(),
    ...(d.deadline !== undefined && { deadline: d.deadline }),
  };

  let written;
  if (d.rotationId) {
    const state = ok ? RestartState.Completed : RestartState.Failed;
    const outcome = { state, at: finished.toISOString(), message, workloads };
    // One write where the journal can set a map entry in place (DynamoDB); else read and update conditionally.
    written = deps.journal.recordRestart
      ? await deps.journal.recordRestart(d.rotationId, cluster, outcome, finished.toISOString())
      : await updateRecord(deps, d.rotationId, (r) => ({ ...r, restarts: { ...r.restarts, [cluster]: outcome } }));
  }
  if (ok) {
    deps.log.info('restart completed', { cluster, item: d.item, message });
    const completed = makeEvent(EventType.RestartCompleted, base, fields);
    if (written && (await runRestartStepHere(deps, inventory, written, completed))) return;
    await deps.events.publish([completed]);
  } else {
    deps.log.error('restart failed', { cluster, item: d.item, message });
    await deps.events.publish([
      makeEvent(EventType.RestartFailed, base, { ...fields, failed: failedOnes.map((o) => o.id), reason: message }),
    ]);
  }
  if (written) {
    await continueRolling(deps, inventory, written, cluster, !ok);
    await wakeRestartStep(deps, written);
  }
}

const jobOf = (
  deps: Deps,
  control: WorkloadControl,
  d: RestartRequest,
  deadline: Date,
  restartedEarlier?: ReadonlySet<string>,
): RestartJob => ({
  control,
  deps,
  deadline,
  requests: requestsTo(coordinationOf(deps), d.cluster),
  ...(restartedEarlier && { restartedEarlier }),
});

/**
 * Passes over the request until every workload has ended, reading the rollouts with a backoff (short again when
 * more start); with `holdUntil`, returns unfinished once the next reading would come later than that.
 */
async function drive(job: RestartJob, check: RestartCheck, holdUntil?: number): Promise<{ check: RestartCheck; finished: boolean }> {
  const now = () => job.deps.clock.now();
  let delay = 0;
  for (let first = true; ; first = false) {
    const pass = await advance(job, check);
    check = pass.check;
    if (pass.finished) return { check, finished: true };
    // The first rollouts are read at once (a small Deployment is often done within a second), later joins soon.
    if (pass.started > 0) delay = first ? 0 : POLL.initialMs;
    else delay = delay === 0 ? POLL.initialMs : nextDelay(delay);
    if (holdUntil !== undefined && now().getTime() + delay > holdUntil) return { check, finished: false };
    try {
      await pause(delay, job.deadline, now, job.deps.signal);
    } catch (e) {
      // The next pass ends what is left as interrupted.
      if (!(e instanceof WaitInterrupted)) throw e;
    }
  }
}

/** Workloads restarted by the request under way: rolling out with a patch of ours, or rolled out since. */
const restartedBy = (check: RestartCheck): string[] => [
  ...Object.entries(check.rolling).flatMap(([id, w]) => (w.outcome === RestartOutcome.Updated ? [id] : [])),
  ...listOf(check.ended, WorkloadResult.Restarted),
];

/**
 * Leaves the rest of the request to a later check: for a rotation, the journal's entry first names this run and
 * what it restarted (so a redelivered request takes over from it and the checks of this run stop), then the check
 * is queued. Throws when either fails: the request is delivered again and takes over.
 */
async function checkLater(deps: Deps, check: RestartCheck, recordRun: boolean): Promise<void> {
  const later = deps.restartChecks;
  if (!later) throw new Error('no restart check queue in this runtime');
  const d = check.request;
  if (d.rotationId && recordRun) {
    const at = deps.clock.now().toISOString();
    const entry = {
      state: RestartState.Requested,
      at,
      workloads: d.workloads,
      rollout: { run: check.run, versionsHash: d.versionsHash ?? '', started: restartedBy(check) },
    };
    if (deps.journal.recordRestart) await deps.journal.recordRestart(d.rotationId, d.cluster, entry, at);
    else await updateRecord(deps, d.rotationId, (r) => ({ ...r, restarts: { ...r.restarts, [d.cluster]: entry } }));
  }
  await later.scheduleRestartCheck(check, check.checkSeconds);
}

/** What an earlier run of this request restarted (a redelivery after its worker was lost), from the rotation's journal entry. */
async function restartedEarlier(deps: Deps, d: RestartRequest): Promise<ReadonlySet<string> | undefined> {
  if (!d.rotationId || !deps.restartChecks) return undefined;
  const rollout = (await deps.journal.get(d.rotationId))?.restarts[d.cluster]?.rollout;
  return rollout && rollout.versionsHash === d.versionsHash ? new Set(rollout.started) : undefined;
}

/**
 * The restart worker: `RestartRequested` for one cluster -> start each workload's rollout and follow it until the
 * deadline, with at most `rolloutsInFlight` of them mid-rollout at once (a window: the next starts when one ends)
 * and the rollouts read together; then record `restarts[cluster]` in the rotation's journal record and emit
 * RestartCompleted or RestartFailed. Where the runtime has a restart check queue (Lambda), the worker does not wait
 * for slow rollouts: after `ROLLOUT_CHECK.holdMs` it hands the request to a later check (`runRestartCheck`), which
 * passes over it the same way; elsewhere (CLI) it waits in-process.
 */
export async function runRestartRequest(deps: Deps, inventory: Inventory, d: RestartRequest): Promise<void> {
  if (d.versionsHash === undefined) return; // a request for humans (manifests only)
  const started = deps.clock.now();
  const deadline = restartDeadline(d.deadline, started);
  const coordination = coordinationOf(deps);
  const control = deps.clusters.get(d.cluster)?.workloads;
  if (!control) return finish(deps, inventory, d, started, [], `cluster ${d.cluster} is not connected from this runtime`);

  if (d.phase === RestartPhase.Serve) {
    const timer = until(deadline, () => deps.clock.now(), deps.signal);
    await trustSettled(coordination, d.cluster, timer.promise);
    timer.cancel();
  }
  // Outside rotations, `rolling` is one cluster at a time per item in this process (rotations chain through the journal).
  const lane = !d.rotationId && d.policy === 'rolling' ? laneOf(coordination, d.item) : undefined;
  const leave = await lane?.acquire();
  let result;
  try {
    const job = jobOf(deps, control, d, deadline, await restartedEarlier(deps, d));
    const check: RestartCheck = {
      request: d,
      run: randomUUID(),
      startedAt: started.toISOString(),
      rolling: {},
      blocked: {},
      ended: [],
      checkSeconds: ROLLOUT_CHECK.initialSeconds,
    };
    result = await drive(job, check, deps.restartChecks ? started.getTime() + ROLLOUT_CHECK.holdMs : undefined);
  } finally {
    leave?.();
  }
  if (result.finished) return finish(deps, inventory, d, started, result.check.ended);
  await checkLater(deps, result.check, true);
}

/**
 * A later check of a restart request the worker left running (the delay queue brings it back): one pass over it,
 * then either the same ending as the worker's, or another check later. A check of a run the rotation's journal no
 * longer names (a redelivered request took over, or the cluster already finished) does nothing.
 */
export async function runRestartCheck(deps: Deps, inventory: Inventory, check: RestartCheck): Promise<void> {
  const d = check.request;
  if (d.rotationId) {
    const entry = (await deps.journal.get(d.rotationId))?.restarts[d.cluster];
    if (entry?.state !== RestartState.Requested || entry.rollout?.run !== check.run) {
      deps.log.info('restart check of a run that no longer goes on: dropped', {
        cluster: d.cluster,
        item: d.item,
        rotationId: d.rotationId,
      });
      return;
    }
  }
  const startedAt = new Date(check.startedAt);
  const control = deps.clusters.get(d.cluster)?.workloads;
  if (!control) return finish(deps, inventory, d, startedAt, check.ended, `cluster ${d.cluster} is not connected from this runtime`);
  const pass = await advance(jobOf(deps, control, d, restartDeadline(d.deadline, startedAt)), check);
  if (pass.finished) return finish(deps, inventory, d, startedAt, pass.check.ended);
  const checkSeconds = pass.started > 0 ? ROLLOUT_CHECK.initialSeconds : nextCheckSeconds(check.checkSeconds);
  await checkLater(deps, { ...pass.check, checkSeconds }, pass.started > 0);
}
