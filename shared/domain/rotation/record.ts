/** A rotation, as the journal keeps it. The store's staging labels hold the versions; this holds the progress. */
import type { RotationStep } from './machines.js';

export const RotationKind = {
  Leaf: 'leaf',
  Authority: 'authority',
  Password: 'password',
  SigningKey: 'signing-key',
} as const;
export type RotationKind = (typeof RotationKind)[keyof typeof RotationKind];

export const RotationStatus = {
  Running: 'running',
  Completed: 'completed',
  Failed: 'failed',
  RolledBack: 'rolled-back',
} as const;
export type RotationStatus = (typeof RotationStatus)[keyof typeof RotationStatus];

export const StepStatus = { Completed: 'completed', Waiting: 'waiting', Failed: 'failed', Skipped: 'skipped' } as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export interface StepOutcome {
  readonly step: RotationStep;
  readonly status: StepStatus;
  readonly at: string;
  readonly attempt: number;
  readonly message?: string;
}

/** Per cluster: `waiting` is a rolling cluster whose turn has not come (the worker of the cluster before it starts it). */
export const RestartState = {
  Waiting: 'waiting',
  Requested: 'requested',
  Completed: 'completed',
  Failed: 'failed',
  Skipped: 'skipped',
} as const;
export type RestartState = (typeof RestartState)[keyof typeof RestartState];

export interface ClusterRestart {
  readonly state: RestartState;
  readonly at: string;
  readonly message?: string;
  readonly workloads?: readonly string[];
  /** For `waiting`: the clusters that must finish first. */
  readonly after?: readonly string[];
  /**
   * For `requested`, once its worker has started rollouts and left them to later checks: which run of the request
   * goes on (a redelivered request starts another, and the checks of the earlier run stop), for which versions, and
   * the workloads it restarted (a redelivery finds them already restarted and still reports them as restarted).
   */
  readonly rollout?: { readonly run: string; readonly versionsHash: string; readonly started: readonly string[] };
}

/** Restarts that have not finished yet: requested, or waiting for their turn. */
export const isOpenRestart = (r: ClusterRestart): boolean => r.state === RestartState.Requested || r.state === RestartState.Waiting;

export const Trigger = { Manual: 'manual', Apply: 'apply', Schedule: 'schedule', Api: 'api', Alert: 'alert', Request: 'request' } as const;
export type Trigger = (typeof Trigger)[keyof typeof Trigger];

/**
 * Who drives a running rotation, and until when. The worker renews it at every step it runs; once it has expired
 * (its worker died or lost its message) another worker may take the rotation over and resume it. Safety does not
 * rest on it (every write is conditional on the revision, every step is idempotent): it says who should go on.
 */
export interface Lease {
  /** The worker: `cli:<host>:<pid>:<nonce>` for the CLI, `lambda:<request id>` for a step function. */
  readonly owner: string;
  /** ISO instant after which the lease may be taken over. */
  readonly expiresAt: string;
}

export interface RotationRecord {
  readonly id: string;
  readonly inventory: string;
  readonly item: string;
  readonly kind: RotationKind;
  readonly status: RotationStatus;
  /** The step to run next (or that ran last, once finished). */
  readonly step: RotationStep;
  readonly attempt: number;
  /** Optimistic concurrency: incremented by every update. */
  readonly revision: number;
  readonly trigger: Trigger;
  readonly reason: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
  /** Store names of the units this rotation re-keys (one per replica for perReplica certificates). */
  readonly units: readonly string[];
  /** Version id of each unit before the rotation, for rollback and the restart hash. */
  readonly previousVersions: Readonly<Record<string, string>>;
  /** Restart progress per cluster, written by the restart worker. */
  readonly restarts: Readonly<Record<string, ClusterRestart>>;
  /** When restarts must be done by (policy `together` with `within`). */
  readonly restartDeadline?: string;
  readonly history: readonly StepOutcome[];
  /** Authority rotations only: what the overlap is about, for status, events and the later steps. */
  readonly authority?: AuthorityProgress;
  /** Signing-key rotations only: the key ids (public) and when the key set changed. */
  readonly signingKey?: SigningKeyProgress;
  /** A rotation started by a RotationRequest (trigger `request`): where that object is, to write its status back. */
  readonly request?: RequestRef;
  readonly error?: string;
  /** Absent on records written before leases existed: such a rotation is free to be taken over. */
  readonly lease?: Lease;
  /** Epoch seconds after which a finished record may be deleted (DynamoDB TTL). */
  readonly expiresAt?: number;
}

/** Where a RotationRequest object lives (its uid is the rotation id). */
export interface RequestRef {
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
}

/** Progress of an authority rotation (certificates here are public: no key material). */
export interface AuthorityProgress {
  /** Fingerprints of the CA certificate before and after the rotation. */
  readonly oldFingerprint?: string;
  readonly newFingerprint?: string;
  /** Units (store keys) under the authority that must move to the new CA, intermediates first. */
  readonly children: readonly string[];
  /** How many of them are on the new CA, as last counted. */
  readonly onNewCa: number;
  /** The restart step whose restarts `restarts` holds, and the items whose consumers it restarts. */
  readonly restartStep?: RotationStep;
  readonly restartItems?: readonly string[];
}

/** Progress of a signing-key rotation: key ids are RFC 7638 thumbprints of public keys, nothing secret. */
export interface SigningKeyProgress {
  readonly oldKid?: string;
  readonly newKid?: string;
  /** When both public keys were first in the key set everywhere. */
  readonly publishedAt?: string;
  /** When the new key began to sign. */
  readonly activatedAt?: string;
  /** From when the old public key may leave the key set: activation + tokenLifetime. */
  readonly retireAfter?: string;
  /** The restart step whose restarts `restarts` holds (verifiers before activation, signers after). */
  readonly restartStep?: RotationStep;
}

export const isFinished = (r: Pick<RotationRecord, 'status'>): boolean => r.status !== RotationStatus.Running;

/** Whether a lease no longer protects its rotation at `now` (a missing lease never did). */
export const leaseExpired = (lease: Lease | undefined, now: Date): boolean => !lease || Date.parse(lease.expiresAt) <= now.getTime();
