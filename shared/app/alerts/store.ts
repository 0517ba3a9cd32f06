import type { RemediationAction, RemediationMode } from '../../domain/alerts/rule.js';

export const RemediationStatus = {
  Pending: 'pending',
  Approved: 'approved',
  Done: 'done',
  Failed: 'failed',
  Rejected: 'rejected',
} as const;
export type RemediationStatus = (typeof RemediationStatus)[keyof typeof RemediationStatus];

/** One remediation decided for a rule and an item (acted on, or waiting for approval). */
export interface Remediation {
  readonly id: string;
  readonly inventory: string;
  readonly rule: string;
  readonly item: string;
  readonly action: RemediationAction;
  readonly mode: RemediationMode;
  readonly status: RemediationStatus;
  readonly alert: {
    readonly source: 'alertmanager' | 'cloudwatch';
    readonly name: string;
    readonly fingerprint: string;
    readonly startsAt: string;
  };
  readonly decidedAt: string;
  readonly rotationId?: string;
  readonly approvedBy?: string;
  readonly message?: string;
}

/**
 * Where alert remediation keeps its memory: delivery claims (dedupe, expiring), and remediations (rate limits,
 * cool-downs, approvals). One adapter per runtime: a JSON file for `rekey serve`, DynamoDB on AWS.
 */
export interface RemediationStore {
  /** Claims a delivery key once: false when it was claimed before and has not expired (a replayed alert). */
  claim(key: string, expiresAtSeconds: number): Promise<boolean>;
  put(remediation: Remediation): Promise<void>;
  get(id: string): Promise<Remediation | undefined>;
  /** Remediations of one rule on one item decided at or after `sinceIso`. */
  recent(rule: string, item: string, sinceIso: string): Promise<Remediation[]>;
  listPending(): Promise<Remediation[]>;
  /** Replaces a remediation if its status is still `from`; false when someone else moved it first. */
  transition(id: string, from: RemediationStatus, next: Remediation): Promise<boolean>;
}
