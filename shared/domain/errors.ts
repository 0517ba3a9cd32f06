/** Context every rekey error may carry; never key material. */
export interface ErrorContext {
  readonly item?: string;
  readonly rotationId?: string;
  readonly cluster?: string;
  readonly path?: string;
  readonly [key: string]: string | number | boolean | undefined;
}

export interface RekeyErrorOptions {
  readonly cause?: unknown;
  readonly context?: ErrorContext;
  readonly retryable?: boolean;
}

/** The root of every error rekey raises on purpose. */
export class RekeyError extends Error {
  readonly context: ErrorContext;
  readonly retryable: boolean;
  /** Invalid input (inventory, arguments): the CLI exits 2 and writes nothing. */
  readonly invalidInput: boolean = false;

  constructor(message: string, options: RekeyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.context = options.context ?? {};
    this.retryable = options.retryable ?? false;
  }
}

/** One problem in an inventory, with the field path it concerns. */
export interface InventoryIssue {
  readonly path: string;
  readonly message: string;
}

export class InvalidInventoryError extends RekeyError {
  override readonly invalidInput = true;
  readonly issues: readonly InventoryIssue[];
  constructor(issues: readonly InventoryIssue[], source?: string) {
    super(
      `${source ? `${source}: ` : ''}invalid inventory:\n` + issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n'),
    );
    this.issues = issues;
  }
}

export class UsageError extends RekeyError {
  override readonly invalidInput = true;
}

export class NotFoundError extends RekeyError {}

/** A pending version of another rotation holds the item. */
export class RotationLockedError extends RekeyError {
  constructor(item: string, heldBy: string, wantedBy: string) {
    super(`item "${item}" is locked by rotation ${heldBy} (pending version); rotation ${wantedBy} cannot proceed`, {
      context: { item, rotationId: wantedBy, heldBy },
      retryable: true,
    });
  }
}

/** Optimistic concurrency lost: someone else changed the record first. */
export class ConflictError extends RekeyError {
  constructor(message: string, context: ErrorContext = {}) {
    super(message, { context, retryable: true });
  }
}

/** A stored or served object is not what it must be (verification, decryption). */
export class IntegrityError extends RekeyError {}

/** Writing would overwrite something rekey does not manage. */
export class UnmanagedObjectError extends RekeyError {}

export class TransientError extends RekeyError {
  constructor(message: string, options: Omit<RekeyErrorOptions, 'retryable'> = {}) {
    super(message, { ...options, retryable: true });
  }
}

export function isRekeyError(e: unknown): e is RekeyError {
  return e instanceof RekeyError;
}
