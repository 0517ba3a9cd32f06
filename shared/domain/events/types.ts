import type { DetailFields, TypedRekeyEvent } from '../../../events/details.js';

/** Event names are a contract: EventBridge source `rekey`, these detail-types. */
export const EVENT_SOURCE = 'rekey';

export const EventType = {
  CertificateIssued: 'CertificateIssued',
  CredentialIssued: 'CredentialIssued',
  VersionPromoted: 'VersionPromoted',
  SecretSynced: 'SecretSynced',
  RestartRequested: 'RestartRequested',
  RestartCompleted: 'RestartCompleted',
  RestartFailed: 'RestartFailed',
  RotationStarted: 'RotationStarted',
  RotationStepCompleted: 'RotationStepCompleted',
  RotationCompleted: 'RotationCompleted',
  RotationFailed: 'RotationFailed',
  RotationRolledBack: 'RotationRolledBack',
  RotationPhaseChanged: 'RotationPhaseChanged',
  ExpiringSoon: 'ExpiringSoon',
  DriftDetected: 'DriftDetected',
  RemediationDecided: 'RemediationDecided',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** Fields every detail has. Details never carry key material, passwords or tokens. */
export interface EventDetailBase {
  readonly inventory: string;
  readonly item: string;
  readonly at: string;
  readonly rotationId?: string;
}

/** A rekey event: the discriminated union of detail types whose zod schemas are in `events/details.ts`. */
export type RekeyEvent = TypedRekeyEvent;

/** Keys whose values would be secret; an event carrying any of them is a bug. */
const FORBIDDEN_KEYS = /^(key|privateKey|password|token|secretValue|secretString|tls\.key|pem|material|value)$/i;
const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/**
 * Throws if a detail would leak secrets; called by every EventBus before publishing. The path of a field is built
 * only to name it in the error (a string per field cost 1.7 KB of garbage per unit of an apply).
 */
export function assertNoSecrets(event: RekeyEvent): void {
  const path = ['detail'];
  const fail = (what: string): never => {
    throw new Error(`event ${event.type} carries ${what} ${path.join('.')}`);
  };
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (PEM_PRIVATE.test(v)) fail('a private key at');
      return;
    }
    if (!v || typeof v !== 'object') return;
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      path.push(k);
      if (FORBIDDEN_KEYS.test(k)) fail('a forbidden field');
      walk((v as Record<string, unknown>)[k]);
      path.pop();
    }
  };
  walk(event.detail);
}

/** Builds an event; `fields` are checked against the detail type's schema at compile time. */
export function makeEvent<T extends EventType>(
  type: T,
  base: Omit<EventDetailBase, 'at'> & { at?: string },
  fields: DetailFields<T>,
): RekeyEvent {
  // Object.assign, not spreads: 3 µs an event instead of 7-10 (an apply of 10,000 makes 30,000).
  const detail: Record<string, unknown> = Object.assign({}, fields, base);
  detail.at ??= new Date().toISOString();
  return { type, detail } as RekeyEvent;
}
