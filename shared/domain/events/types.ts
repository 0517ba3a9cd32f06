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

/** Throws if a detail would leak secrets; called by every EventBus before publishing. */
export function assertNoSecrets(event: RekeyEvent): void {
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      if (PEM_PRIVATE.test(v)) throw new Error(`event ${event.type} carries a private key at ${path}`);
      return;
    }
    if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (FORBIDDEN_KEYS.test(k)) throw new Error(`event ${event.type} carries a forbidden field ${path}.${k}`);
        walk(child, `${path}.${k}`);
      }
    }
  };
  walk(event.detail, 'detail');
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
