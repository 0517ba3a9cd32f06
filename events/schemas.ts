import { z } from 'zod';
import { EVENT_SOURCE, EventType, type RekeyEvent } from '../shared/domain/events/types.js';
import { DETAIL_SCHEMAS, detailBase, parseDetail } from './details.js';
import { ALL_STEPS, type RotationStep } from '../shared/domain/rotation/machines.js';
import { WorkloadResult } from '../shared/domain/restart/outcome.js';
import { RestartOutcome } from '../shared/ports/cluster.js';
import type { RestartCheck } from '../shared/ports/restart-checks.js';

/**
 * What the functions accept, checked before any use case runs. A message that fails here can never succeed:
 * the step and delay functions dead-letter it with the reason, the restart function sends it to the events DLQ.
 */

const name = z.string().min(1).max(256);

/** A step message on the FIFO queue (shared/ports/step-queue.ts). */
export const stepMessageSchema = z.strictObject({
  rotationId: z.string().min(1).max(128),
  inventory: name,
  item: name,
  step: z.enum(ALL_STEPS as [RotationStep, ...RotationStep[]]),
  attempt: z.number().int().min(0).max(100_000),
  requeue: z.number().int().min(1).max(10_000).optional(),
});

/** A waiting step on the delay queue. */
export const delayedStepSchema = z.strictObject({
  message: stepMessageSchema,
  notBefore: z.iso.datetime({ offset: true }),
});

const workloadOutcomes = Object.values(WorkloadResult) as [WorkloadResult, ...WorkloadResult[]];
const restartOutcomes = Object.values(RestartOutcome) as [RestartOutcome, ...RestartOutcome[]];

/** A restart request part-way (shared/ports/restart-checks.ts), as the restart worker leaves it for a later check. */
export const restartCheckSchema: z.ZodType<RestartCheck> = z.strictObject({
  request: DETAIL_SCHEMAS[EventType.RestartRequested],
  run: z.string().min(1).max(128),
  startedAt: z.iso.datetime({ offset: true }),
  rolling: z.record(z.string(), z.strictObject({ outcome: z.enum(restartOutcomes), last: z.string() })),
  blocked: z.record(z.string(), z.string()),
  ended: z.array(z.strictObject({ id: z.string(), result: z.enum(workloadOutcomes), message: z.string() })),
  checkSeconds: z.number().int().min(0).max(900),
});

/** A restart check on the delay queue. */
export const delayedRestartCheckSchema = z.strictObject({
  restartCheck: restartCheckSchema,
  notBefore: z.iso.datetime({ offset: true }),
});

/**
 * What the delay queue carries: a waiting step, or a restart check (an object with `restartCheck`), each checked
 * against its own schema so the reason names the field at fault.
 */
export const delayedWorkSchema = z.custom<unknown>().transform((data, ctx) => {
  const schema = data && typeof data === 'object' && 'restartCheck' in data ? delayedRestartCheckSchema : delayedStepSchema;
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

const eventTypes = Object.values(EventType) as [EventType, ...EventType[]];

/**
 * An EventBridge event from rekey, as a rule delivers it to a function (or to a queue, for the local runner): the
 * envelope, and the detail checked against the schema of its detail-type (events/details.ts).
 */
export const rekeyEventBridgeSchema = z
  .object({
    source: z.literal(EVENT_SOURCE),
    'detail-type': z.enum(eventTypes),
    detail: z.looseObject(detailBase),
  })
  .superRefine((event, ctx) => {
    const parsed = parseDetail(event['detail-type'], event.detail);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', path: ['detail'], message: parsed.reason });
  });

/** Parses an EventBridge envelope into the typed event; never throws. */
export function parseRekeyEvent(data: unknown): { ok: true; value: RekeyEvent } | { ok: false; reason: string } {
  const envelope = check(rekeyEventBridgeSchema, data);
  if (!envelope.ok) return envelope;
  const type = envelope.value['detail-type'];
  const detail = parseDetail(type, envelope.value.detail);
  return detail.ok ? { ok: true, value: { type, detail: detail.value } as RekeyEvent } : detail;
}

/** The schedule's input: EventBridge's scheduled event, or a manual invoke saying whether to repair drift. */
export const scheduleInputSchema = z
  .object({
    source: z.string().optional(),
    'detail-type': z.string().optional(),
    detail: z.object({ repair: z.boolean().optional(), full: z.boolean().optional() }).loose().optional(),
    repair: z.boolean().optional(),
    /** Read every unit and Secret now (drift, renewal index repair) instead of what the renewal index says is due. */
    full: z.boolean().optional(),
  })
  .loose();

/** One line per problem, with the field path: what a dead-letter reason says. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Parses JSON text and checks it; never throws. */
export function parseJson<T>(schema: z.ZodType<T>, text: string): { ok: true; value: T } | { ok: false; reason: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message}` };
  }
  return check(schema, data);
}

export function check<T>(schema: z.ZodType<T>, data: unknown): { ok: true; value: T } | { ok: false; reason: string } {
  const parsed = schema.safeParse(data);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: describeIssues(parsed.error) };
}

// ---- what the functions' event sources deliver (checked record by record, before any cluster is connected) ----

/** An SQS record as Lambda delivers it: the fields the step and delay functions read. */
export const sqsRecordSchema = z
  .object({
    messageId: z.string().min(1),
    receiptHandle: z.string().min(1),
    body: z.string(),
    attributes: z
      .object({
        ApproximateReceiveCount: z
          .string()
          .regex(/^[0-9]+$/, 'a count')
          .optional(),
        MessageGroupId: z.string().optional(),
      })
      .loose(),
  })
  .loose();

/** An SQS batch: Lambda's event for the step and delay functions. Records are checked one by one. */
export const sqsEventSchema = z.object({ Records: z.array(z.unknown()) }).loose();

/** `SecretSynced`: a Secret written into one cluster (sync); the restart planner reads it. */
export const secretSyncedDetailSchema = DETAIL_SCHEMAS[EventType.SecretSynced];

/**
 * `RestartRequested`: the consumers to restart in one cluster. Without `versionsHash` it is a request for humans
 * (manifests rendered, no live cluster): recorded, nothing restarted.
 */
export const restartRequestedDetailSchema = DETAIL_SCHEMAS[EventType.RestartRequested];

/** The events the restart function's rule routes to it, each with its own detail schema. */
export const restartFunctionEventSchema = z.discriminatedUnion('detail-type', [
  z.object({ source: z.literal(EVENT_SOURCE), 'detail-type': z.literal(EventType.SecretSynced), detail: secretSyncedDetailSchema }).loose(),
  z
    .object({ source: z.literal(EVENT_SOURCE), 'detail-type': z.literal(EventType.RestartRequested), detail: restartRequestedDetailSchema })
    .loose(),
]);
