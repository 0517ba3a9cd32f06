import { z } from 'zod';
import { EventType } from '../shared/domain/events/types.js';

/**
 * The event contract: one zod schema per detail type. Producers build details through `makeEvent` (typed by these
 * schemas), consumers parse them with `parseDetail` / `rekeyEventSchema`. Every detail has inventory, item and at
 * (rotationId where one applies); none carries key material. Objects are loose so a newer producer's extra field
 * does not make an older consumer drop the event.
 */

const name = z.string().min(1).max(256);
const instant = z.iso.datetime({ offset: true });
const text = z.string();
const ids = z.array(z.string()).readonly();
const workloadIds = z.array(z.string().min(1).max(512)).max(10_000).readonly();
const cluster = z.string().min(1).max(63);

export const detailBase = {
  inventory: name,
  item: name,
  at: instant,
  rotationId: z.string().min(1).max(128).optional(),
};

const where = { cluster, namespace: z.string().min(1).max(63), secret: z.string().min(1).max(253) };

const restartOutcome = {
  cluster: name,
  workloads: ids,
  versionsHash: text,
  restarted: ids,
  unchanged: ids,
  missing: ids,
  durationMs: z.number(),
  deadline: instant.optional(),
};

export const DETAIL_SCHEMAS = {
  [EventType.CertificateIssued]: z.looseObject({
    ...detailBase,
    versionId: text,
    serial: text,
    fingerprint: text,
    notAfter: instant,
    keyType: text,
    issuer: text.optional(),
  }),
  [EventType.CredentialIssued]: z.looseObject({ ...detailBase, versionId: text, credentialType: text }),
  [EventType.VersionPromoted]: z.looseObject({ ...detailBase, versionId: text }),
  [EventType.SecretSynced]: z.looseObject({
    ...detailBase,
    ...where,
    versionId: z.string().min(1),
    change: z.string().min(1),
    reason: text.optional(),
  }),
  [EventType.RestartRequested]: z.looseObject({
    ...detailBase,
    cluster,
    workloads: workloadIds,
    policy: z.enum(['rolling', 'together', 'none']).optional(),
    /** Absent on a request for humans (manifests only): nobody connected can restart. */
    versionsHash: text.optional(),
    deadline: instant.optional(),
    phase: z.enum(['trust', 'serve']).optional(),
    budget: z.number().int().min(1).max(1000).optional(),
    after: ids.optional(),
    delivery: text.optional(),
  }),
  [EventType.RestartCompleted]: z.looseObject({ ...detailBase, ...restartOutcome }),
  [EventType.RestartFailed]: z.looseObject({ ...detailBase, ...restartOutcome, failed: ids, reason: text }),
  [EventType.RotationStarted]: z.looseObject({ ...detailBase, kind: text, trigger: text, reason: text }),
  [EventType.RotationStepCompleted]: z.looseObject({ ...detailBase, step: text, status: text, message: text.optional() }),
  [EventType.RotationCompleted]: z.looseObject({ ...detailBase, kind: text, steps: z.number().int() }),
  [EventType.RotationFailed]: z.looseObject({ ...detailBase, step: text, error: text }),
  [EventType.RotationRolledBack]: z.looseObject({ ...detailBase, step: text.optional(), units: ids.optional(), reason: text.optional() }),
  [EventType.RotationPhaseChanged]: z.looseObject({
    ...detailBase,
    phase: text,
    step: text,
    /** Units under the authority that move to the new CA, and how many already did. */
    children: z.number().int().min(0),
    onNewCa: z.number().int().min(0),
  }),
  [EventType.ExpiringSoon]: z.looseObject({ ...detailBase, notAfter: instant, serial: text }),
  [EventType.DriftDetected]: z.looseObject({
    ...detailBase,
    cluster: name,
    namespace: name.optional(),
    secret: name.optional(),
    reason: text.optional(),
    repaired: z.boolean().optional(),
    kind: text.optional(),
  }),
  [EventType.RemediationDecided]: z.looseObject({
    ...detailBase,
    /** acted | deduped | rate-limited | cooling-down | awaiting-approval | approved | rejected | no-rule | resolved | failed */
    decision: text,
    reason: text,
    source: z.enum(['alertmanager', 'cloudwatch']),
    alertname: text,
    fingerprint: text,
    startsAt: text,
    rule: text.optional(),
    action: text.optional(),
    remediationId: text.optional(),
  }),
} as const satisfies { readonly [T in EventType]: z.ZodType };

export type DetailSchemas = typeof DETAIL_SCHEMAS;
/** The detail of one type, as consumers see it after parsing. */
export type EventDetail<T extends EventType> = z.output<DetailSchemas[T]>;
/** What a producer passes beside the base fields (inventory, item, at, rotationId): the schema's own fields. */
export type DetailFields<T extends EventType> = Omit<z.input<z.ZodObject<DetailSchemas[T]['shape']>>, keyof typeof detailBase> &
  Readonly<Record<string, unknown>>;

/** A rekey event: the discriminated union of every detail type. */
export type TypedRekeyEvent = { readonly [T in EventType]: { readonly type: T; readonly detail: EventDetail<T> } }[EventType];

/** Checks a detail of a known type; never throws. */
export function parseDetail<T extends EventType>(
  type: T,
  detail: unknown,
): { ok: true; value: EventDetail<T> } | { ok: false; reason: string } {
  const parsed = DETAIL_SCHEMAS[type].safeParse(detail);
  if (parsed.success) return { ok: true, value: parsed.data as EventDetail<T> };
  return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ') };
}
