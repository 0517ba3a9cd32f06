import type { RotationSummary } from '../inspect.js';
import type { FoundConsumer } from './consumers.js';
import type { Placement } from './placements.js';

/** How close a unit is to needing a new version; the report colours by it. */
export const Urgency = { Expired: 'expired', Due: 'due', Soon: 'soon', Ok: 'ok', NotIssued: 'not-issued' } as const;
export type Urgency = (typeof Urgency)[keyof typeof Urgency];

/** Most urgent first: the order of the report's groups. */
export const URGENCY_ORDER: readonly Urgency[] = [Urgency.Expired, Urgency.Due, Urgency.Soon, Urgency.Ok, Urgency.NotIssued];

/** A unit is `soon` when its renewal window opens within this many days. */
export const SOON_DAYS = 30;

export interface ReportUnit {
  readonly key: string;
  readonly item: string;
  readonly kind: 'authority' | 'certificate' | 'credential';
  /** The authority that signs it (certificates: issuer, intermediates: parent). */
  readonly signedBy?: string;
  /** Key type (certificates, authorities) or credential type. */
  readonly keyType: string;
  readonly commonName?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** When the renewal window opens (certificates: notAfter - renewBefore; credentials: created + rotateEvery). */
  readonly renewAt?: string;
  readonly daysLeft?: number;
  readonly urgency: Urgency;
  readonly version?: string;
  readonly adopted?: boolean;
  /** A rotation of the item still running: its id and step. */
  readonly rotating?: { readonly id: string; readonly step: string };
  readonly secret?: { readonly namespace: string; readonly name: string; readonly clusters: readonly string[] };
  readonly files?: string;
  readonly consumers: readonly string[];
}

export interface ReportRotation extends RotationSummary {
  readonly item: string;
  readonly durationMs?: number;
}

/** Everything the page shows, gathered once; the renderer is a pure function of it. */
export interface ReportData {
  readonly inventory: string;
  readonly generatedAt: string;
  readonly clusters: readonly string[];
  readonly units: readonly ReportUnit[];
  /** Secrets as found in clusters; empty when no cluster was read. */
  readonly placements: readonly Placement[];
  /** Workloads found using the inventory's Secrets (only with live clusters). */
  readonly foundConsumers: readonly FoundConsumer[];
  /** Whether Secrets were read (`--out` or `--kubeconfig`) and whether workloads were (live clusters only). */
  readonly checked: { readonly secrets: boolean; readonly workloads: boolean };
  /** Newest first: every running rotation, then the latest finished ones. */
  readonly rotations: readonly ReportRotation[];
}
