import { z } from 'zod';
import { EVENT_SOURCE, EventType } from '../shared/domain/events/types.js';

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
  step: z.string().regex(/^[a-z][a-z-]{0,63}$/, 'a step name (lowercase letters and dashes)'),
  attempt: z.number().int().min(0).max(100_000),
});

/** A waiting step on the delay queue. */
export const delayedStepSchema = z.strictObject({
  message: stepMessageSchema,
  notBefore: z.iso.datetime({ offset: true }),
});

const eventTypes = Object.values(EventType) as [EventType, ...EventType[]];

/** An EventBridge event from rekey, as a rule delivers it to a function (or to a queue, for the local runner). */
export const rekeyEventBridgeSchema = z.object({
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.enum(eventTypes),
  detail: z
    .object({
      inventory: name,
      item: name,
      at: z.iso.datetime({ offset: true }),
      rotationId: z.string().min(1).optional(),
    })
    .loose(),
});

/** The schedule's input: EventBridge's scheduled event, or a manual invoke saying whether to repair drift. */
export const scheduleInputSchema = z
  .object({
    source: z.string().optional(),
    'detail-type': z.string().optional(),
    detail: z.object({ repair: z.boolean().optional() }).loose().optional(),
    repair: z.boolean().optional(),
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
