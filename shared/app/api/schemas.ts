import { z } from 'zod';

/**
 * The API's request and response bodies. The router validates requests with them, the tests validate responses
 * with them, and the OpenAPI document is generated from them: one definition for all three.
 */

/** Same rule as the inventory's item names; checked before any lookup, so `..`, `/` and NUL never reach a store. */
export const ITEM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const itemName = z
  .string()
  .regex(ITEM_NAME, 'an item name: letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128');
export const rotationId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/, 'a rotation id');
export const remediationId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/, 'a remediation id');

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(z.string()).optional(),
    correlationId: z.string().optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export const rotationRequestSchema = z
  .strictObject({
    item: itemName,
    reason: z.string().min(1).max(500).default('requested through the API'),
  })
  .meta({ id: 'RotationRequest' });

export const rotationAcceptedSchema = z
  .object({ id: z.string(), item: z.string(), status: z.string(), location: z.string() })
  .meta({ id: 'RotationAccepted' });

const stepOutcome = z.object({ step: z.string(), status: z.string(), at: z.string(), attempt: z.number(), message: z.string().optional() });

export const rotationSchema = z
  .object({
    id: z.string(),
    inventory: z.string(),
    item: z.string(),
    kind: z.string(),
    status: z.string(),
    step: z.string(),
    trigger: z.string(),
    reason: z.string(),
    startedAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
    units: z.array(z.string()),
    history: z.array(stepOutcome),
    restarts: z.record(z.string(), z.object({ state: z.string(), at: z.string(), message: z.string().optional() }).loose()),
    error: z.string().optional(),
  })
  .meta({ id: 'Rotation' });

export const unitStatusSchema = z
  .object({
    name: z.string(),
    kind: z.string(),
    version: z.string().optional(),
    notAfter: z.string().optional(),
    serial: z.string().optional(),
    fingerprint: z.string().optional(),
    issuer: z.string().optional(),
    adopted: z.boolean().optional(),
    rotation: z
      .object({ id: z.string(), status: z.string(), step: z.string(), updatedAt: z.string(), error: z.string().optional() })
      .optional(),
  })
  .meta({ id: 'UnitStatus' });

export const itemListSchema = z.object({ inventory: z.string(), items: z.array(unitStatusSchema) }).meta({ id: 'ItemList' });

export const itemDetailSchema = z
  .object({
    name: z.string(),
    kind: z.string(),
    units: z.array(unitStatusSchema),
    versions: z.record(z.string(), z.array(z.object({ versionId: z.string(), stages: z.array(z.string()), createdAt: z.string() }))),
    targets: z.object({
      secret: z.object({ name: z.string(), namespace: z.string(), clusters: z.array(z.string()) }).optional(),
      files: z.object({ dir: z.string() }).loose().optional(),
    }),
    consumers: z.array(z.string()),
    restart: z.object({ policy: z.string(), withinMs: z.number().optional() }),
  })
  .meta({ id: 'ItemDetail' });

export const planSchema = z
  .object({
    inventory: z.string(),
    actions: z.array(z.object({ action: z.string(), kind: z.string(), name: z.string(), reason: z.string() }).loose()),
    warnings: z.array(z.object({ name: z.string(), message: z.string() }).loose()),
    consumers: z
      .array(z.object({ item: z.string(), cluster: z.string(), consumers: z.array(z.string()), perCluster: z.boolean() }).loose())
      .optional(),
  })
  .meta({ id: 'Plan' });

export const logLevelSchema = z.strictObject({ level: z.enum(LOG_LEVELS) }).meta({ id: 'LogLevel' });

export const healthSchema = z
  .object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()).optional() })
  .meta({ id: 'Health' });
export const versionSchema = z.object({ version: z.string(), inventory: z.string(), runtime: z.string() }).meta({ id: 'Version' });
