/** Staging labels, as AWS Secrets Manager names them; they are the state of a rotation. */
export const Stage = { Pending: 'AWSPENDING', Current: 'AWSCURRENT', Previous: 'AWSPREVIOUS' } as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

export interface StoredVersion {
  readonly versionId: string;
  readonly stages: readonly Stage[];
  readonly createdAt: string;
  /** The secret value (JSON text). Never log it. */
  readonly value: string;
}

export interface VersionInfo {
  readonly versionId: string;
  readonly stages: readonly Stage[];
  readonly createdAt: string;
}

export interface SecretDescription {
  readonly name: string;
  readonly versions: readonly VersionInfo[];
  readonly tags: Readonly<Record<string, string>>;
}

export interface PutPendingResult {
  /** false when a version with this id already existed (a retried step): nothing new was made. */
  readonly created: boolean;
}

export interface PutCurrentResult {
  /** false when a version with this id already existed (a retried step): nothing was written. */
  readonly created: boolean;
  /** The version that was current before, when the backend knows it without another call (the embedded vault). */
  readonly replaced?: string;
}

/**
 * Versioned secret storage with AWS Secrets Manager's staging-label semantics.
 * Names look like `rekey/<inventory>/<item>`. One adapter per backend (embedded vault, Secrets Manager).
 */
export interface SecretStore {
  describe(name: string): Promise<SecretDescription | undefined>;
  /** Reads a version by stage (default AWSCURRENT) or id; undefined when the secret or version is missing. */
  getVersion(name: string, selector?: { stage?: Stage; versionId?: string }): Promise<StoredVersion | undefined>;
  /**
   * Creates the secret if needed and stores `value` as a new version labelled AWSPENDING, with `versionId` as the
   * idempotency token. Throws RotationLockedError when another version is pending.
   */
  putPending(
    name: string,
    versionId: string,
    value: string,
    options?: { tags?: Record<string, string>; description?: string },
  ): Promise<PutPendingResult>;
  /**
   * Stores `value` as a new version `versionId` labelled AWSCURRENT in one write, creating the secret if needed; the
   * version that was current becomes AWSPREVIOUS (Secrets Manager moves it by itself). For rotations that test their
   * material in memory first (a leaf): one write instead of put-pending plus promote. Idempotent on `versionId`:
   * when a version with that id exists already (a retried step), nothing is written and `created` is false; the
   * caller reads that version by id (its value may differ from `value`).
   */
  putCurrent(
    name: string,
    versionId: string,
    value: string,
    options?: { tags?: Record<string, string>; description?: string },
  ): Promise<PutCurrentResult>;
  /** Moves AWSCURRENT to `versionId` (and the old current to AWSPREVIOUS), removing AWSPENDING from it. Idempotent. */
  promote(name: string, versionId: string): Promise<void>;
  /** Removes AWSPENDING from `versionId` (a failed rotation before promotion). Idempotent. */
  discardPending(name: string, versionId: string): Promise<void>;
  /** Moves AWSCURRENT back to the AWSPREVIOUS version. Returns the version now current. */
  rollback(name: string): Promise<string>;
  /** Names under a prefix, all pages. */
  list(prefix: string): Promise<string[]>;
}
