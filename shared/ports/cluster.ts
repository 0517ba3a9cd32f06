import type { DesiredSecret, ObservedSecret } from '../domain/sync/secret.js';
import type { WorkloadRef } from '../domain/restart/workload.js';
import type { RequestStatus, RotationRequest } from '../domain/requests/rotation-request.js';

export type { DesiredSecret, ObservedSecret, WorkloadRef };

export const WriteOutcome = { Created: 'created', Updated: 'updated', Unchanged: 'unchanged' } as const;
export type WriteOutcome = (typeof WriteOutcome)[keyof typeof WriteOutcome];

/** Where Secrets go: a real cluster, or manifests on disk (`--out`). */
export interface SecretSink {
  /** Secrets in a namespace (one list call), managed or not, for comparing before writing. */
  listSecrets(namespace: string): Promise<ObservedSecret[]>;
  getSecret(namespace: string, name: string): Promise<ObservedSecret | undefined>;
  /**
   * Creates or updates the Secret. `expected` is what the caller observed (undefined: must not exist), so a
   * concurrent change is a ConflictError rather than a lost update. Throws UnmanagedObjectError if the
   * Secret exists without rekey's label and `adopt` is false.
   */
  writeSecret(secret: DesiredSecret, options: { adopt: boolean; expected?: ObservedSecret }): Promise<WriteOutcome>;
}

export const RestartOutcome = { Updated: 'Updated', NotUpdated: 'NotUpdated' } as const;
export type RestartOutcome = (typeof RestartOutcome)[keyof typeof RestartOutcome];

export interface RolloutStatus {
  readonly done: boolean;
  /** Human-readable progress, e.g. "2 of 3 updated replicas are available". */
  readonly message: string;
}

/** One workload's rollout as read in a batch: its status, or the error of reading or judging it (NotFoundError: gone). */
export type RolloutReading = { readonly status: RolloutStatus } | { readonly error: unknown };

/** A pod's use of a Secret, found by scanning pod specs. */
export interface SecretUse {
  readonly secret: string;
  readonly namespace: string;
  readonly workload: WorkloadRef;
  readonly via: 'volume' | 'projected' | 'env' | 'envFrom';
}

/** What restarts need from a live cluster. Absent for manifest output. */
export interface WorkloadControl {
  /** Workloads matching a label selector in a namespace (controllers, or bare pods). */
  selectWorkloads(namespace: string, selector: string): Promise<WorkloadRef[]>;
  /**
   * Restarts a workload: patches pod template annotations (`rekey/restartedAt`, `rekey/versions`) of controllers,
   * or evicts a bare pod honouring PodDisruptionBudgets. NotUpdated when the hash already matches.
   */
  restart(ref: WorkloadRef, versionsHash: string, at: Date): Promise<RestartOutcome>;
  rolloutStatus(ref: WorkloadRef): Promise<RolloutStatus>;
  /**
   * The rollouts of many workloads at once, one list per namespace and kind instead of a read per workload; keyed by
   * workload id (`Kind/namespace/name`), one entry per ref. Optional: without it, callers read `rolloutStatus` each.
   */
  rolloutStatuses?(refs: readonly WorkloadRef[]): Promise<ReadonlyMap<string, RolloutReading>>;
  /** Every workload whose pods use one of these Secrets (volumes, projected volumes, env, envFrom). */
  findSecretUses(namespace: string): Promise<SecretUse[]>;
  /** JSON merge patch on any object (seed 001's pause/resume of an owner). */
  mergePatch(
    object: { apiVersion: string; kind: string; namespace?: string; name: string },
    patch: Readonly<Record<string, unknown>>,
  ): Promise<void>;
}

/** RotationRequest objects (rekey.dev/v1alpha1) in a live cluster. Absent for manifest output. */
export interface RotationRequestControl {
  /** The requests in a namespace; none when the CRD is not installed in the cluster. */
  list(namespace: string): Promise<RotationRequest[]>;
  /** One request; undefined when it (or the CRD) is not there. */
  get(namespace: string, name: string): Promise<RotationRequest | undefined>;
  /** Replaces the status subresource (conditional on the resourceVersion read); returns the object as written. */
  writeStatus(request: RotationRequest, status: RequestStatus): Promise<RotationRequest>;
}

export interface Cluster {
  readonly name: string;
  readonly secrets: SecretSink;
  readonly workloads?: WorkloadControl;
  readonly rotationRequests?: RotationRequestControl;
}
