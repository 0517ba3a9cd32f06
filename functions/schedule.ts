import { scan, ScanMode } from '../shared/app/scan.js';
import { DEFAULT_LEASE_MS } from '../shared/app/rotation/lease.js';
import { check, scheduleInputSchema } from '../events/schemas.js';
import { withInvocation } from './lib/invocation.js';
import { lazyRuntime, type RuntimeSource } from './lib/runtime-source.js';

export interface ScheduleSummary {
  readonly started: number;
  readonly issued: number;
  readonly expiring: number;
  readonly drift: number;
  readonly skipped: number;
  readonly rotations: readonly string[];
  /** RotationRequest objects picked up (started, or their status written back). */
  readonly requests: number;
  /** `due`: only what the renewal index said is due was read; `full`: every unit and Secret (the periodic reconcile). */
  readonly mode: ScanMode;
}

/**
 * The scheduled scan (EventBridge rate/cron): starts due rotations, issues first authorities, emits ExpiringSoon
 * and DriftDetected, picks up RotationRequest objects (starting each once, writing their status back). `repair: true` in the input (or REKEY_REPAIR_DRIFT=true) rewrites drifted Secrets.
 * It reads only what the renewal index says is due, with a full reconcile (drift included) once a day, after an
 * inventory change, or when the input says `full: true`. Failures
 * throw: the next run (or Lambda's own retry) scans again, and every action is idempotent.
 */
export function scheduleHandler(runtime: RuntimeSource) {
  return withInvocation(runtime, async (event: unknown, { rt, log, deps }): Promise<ScheduleSummary> => {
    const input = check(scheduleInputSchema, event ?? {});
    if (!input.ok) {
      // A schedule's input is ours (serverless.yml); a wrong one is a deployment bug, not something to retry.
      log.error('schedule input rejected', { reason: input.reason });
      return { started: 0, issued: 0, expiring: 0, drift: 0, skipped: 0, rotations: [], requests: 0, mode: ScanMode.Due };
    }
    const repair = input.value.repair ?? input.value.detail?.repair ?? rt.repairDrift;
    // Not exclusive: step workers may be running. Stale rotations are re-queued (their worker claims the lease).
    const recover = { lease: { owner: 'lambda:schedule', ttlMs: DEFAULT_LEASE_MS }, exclusive: false };
    const full = input.value.full ?? input.value.detail?.full ?? false;
    const result = await scan(await deps(), rt.inventory, { repair, recover, full });
    const summary: ScheduleSummary = {
      started: result.started.length,
      issued: result.issued.length,
      expiring: result.expiring.length,
      drift: result.drift.length,
      skipped: result.skipped.length,
      rotations: result.started.map((s) => s.rotationId),
      requests: result.requests.length,
      mode: result.mode,
    };
    log.info('scan done', {
      ...summary,
      started: result.started,
      skipped: result.skipped,
      recovered: result.recovered,
      requests: result.requests,
    });
    return summary;
  });
}

export const handler = scheduleHandler(lazyRuntime());
