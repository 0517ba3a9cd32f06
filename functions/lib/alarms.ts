import { cloudWatchAlarmSchema, type CloudWatchAlarm } from '../../shared/app/alerts/cloudwatch.js';
import { alertService } from '../../shared/app/alerts/service.js';
import type { Decision } from '../../shared/domain/alerts/decide.js';
import type { ApiRuntime } from '../api.js';
import type { Invocation } from './invocation.js';
import { depsFor } from './runtime.js';

/** What one SNS delivery of CloudWatch alarms came to (the function's return value, and one log line). */
export interface AlarmSummary {
  /** Records whose message was a CloudWatch alarm state change. */
  readonly alarms: number;
  /** Records refused as malformed (logged with their message id; SNS would only deliver them again). */
  readonly rejected: number;
  /** Decisions by kind (acted, deduped, rate-limited, ...). */
  readonly decisions: Readonly<Partial<Record<Decision, number>>>;
}

const MAX_MESSAGE = 262_144;

/** One SNS record's alarm, or why it is not one. Each record is checked on its own: a bad one fails alone. */
function alarmOf(record: unknown): { alarm: CloudWatchAlarm } | { problem: string; messageId?: string } {
  const sns = (record as { Sns?: { Message?: unknown; MessageId?: unknown } | null } | null)?.Sns;
  const messageId = typeof sns?.MessageId === 'string' ? sns.MessageId.slice(0, 128) : undefined;
  const id = messageId ? { messageId } : {};
  if (typeof sns !== 'object' || sns === null) return { problem: 'not an SNS record', ...id };
  if (typeof sns.Message !== 'string') return { problem: 'Sns.Message is not a string', ...id };
  if (sns.Message.length > MAX_MESSAGE) return { problem: `Sns.Message is longer than ${MAX_MESSAGE} characters`, ...id };
  let parsed: unknown;
  try {
    parsed = JSON.parse(sns.Message);
  } catch {
    return { problem: 'Sns.Message is not JSON', ...id };
  }
  const alarm = cloudWatchAlarmSchema.safeParse(parsed);
  if (!alarm.success)
    return {
      problem: `not a CloudWatch alarm: ${alarm.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ')}`,
      ...id,
    };
  return { alarm: alarm.data };
}

/**
 * CloudWatch alarms delivered by SNS: each record's message parsed and checked on its own (malformed ones are
 * logged and dropped: SNS would deliver them again unchanged), then the alert rules decide. Clusters are connected
 * only once a valid alarm needs them; when they cannot be, rotations are still started (the step function
 * syncs) and resync/restart decide `failed`. A store failure throws, so Lambda's retry of the SNS delivery
 * tries again; the dedupe claim (fingerprint + state change time, DynamoDB conditional put with TTL) makes that safe.
 */
export async function receiveAlarms(event: unknown, inv: Invocation, runtime: ApiRuntime): Promise<AlarmSummary> {
  const { rt, logger } = runtime;
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records) || records.length === 0 || records.length > 100) {
    inv.log.error('not an SNS event: nothing processed', { records: Array.isArray(records) ? records.length : typeof records });
    return { alarms: 0, rejected: 0, decisions: {} };
  }
  const alarms: CloudWatchAlarm[] = [];
  let rejected = 0;
  for (const record of records) {
    const r = alarmOf(record);
    if ('problem' in r) {
      rejected++;
      inv.log.error('SNS record rejected', { reason: r.problem, ...(r.messageId && { messageId: r.messageId }) });
    } else alarms.push(r.alarm);
  }
  const decisions: Partial<Record<Decision, number>> = {};
  if (alarms.length) {
    const store = rt.aws.remediations;
    if (!store) throw new Error('this runtime has no remediation store (REKEY_JOURNAL_TABLE)');
    const clusters = await rt.clusters().catch((e: unknown) => {
      logger.warn('clusters not connected; rotations are queued, resync and restart fail', {
        error: e instanceof Error ? e.message : String(e),
      });
      return new Map();
    });
    const service = alertService({ deps: depsFor(rt, clusters, { signal: inv.signal, log: logger }), inventory: rt.inventory, store });
    for (const alarm of alarms)
      for (const d of await service.receiveCloudWatch(alarm)) decisions[d.decision] = (decisions[d.decision] ?? 0) + 1;
  }
  const summary = { alarms: alarms.length, rejected, decisions };
  inv.log.info('alarms received', { ...summary });
  return summary;
}
