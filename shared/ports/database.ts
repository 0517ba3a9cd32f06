import { RekeyError, type ErrorContext } from '../domain/errors.js';
import type { DatabaseLogin } from '../domain/inventory/model.js';

/** What a login attempt with a password showed. */
export const LoginOutcome = {
  Accepted: 'accepted',
  /** The server refused the password (or the role cannot log in). */
  Refused: 'refused',
} as const;
export type LoginOutcome = (typeof LoginOutcome)[keyof typeof LoginOutcome];

/**
 * One administrative session on a credential's database (opened with the URL `urlFrom` names). Every method takes
 * a role name as data and quotes it itself; passwords never appear in statement text (only SCRAM verifiers do).
 */
export interface DatabaseSession {
  /** Whether a role of this name exists. */
  roleExists(role: string): Promise<boolean>;
  /**
   * Creates `alternate` as a second login of `role` (alternating strategy): a LOGIN role, member of `role` (so it
   * holds `role`'s privileges and memberships through inheritance), whose sessions `SET ROLE` to `role` at login
   * (so objects it creates are owned by `role`). It takes `role`'s attributes (SUPERUSER, CREATEDB, CREATEROLE,
   * INHERIT, REPLICATION, BYPASSRLS, CONNECTION LIMIT, VALID UNTIL), on creation and again on every call, so it stays
   * a clone of `role`. Idempotent: an existing `alternate` gets the membership again.
   */
  createAlternate(role: string, alternate: string): Promise<void>;
  /** `ALTER ROLE … PASSWORD '<verifier>'`: the password as a SCRAM-SHA-256 verifier computed by the caller. */
  setPasswordVerifier(role: string, verifier: string): Promise<void>;
  /** Opens (and closes) a connection as `role` with `password`, to the same server and database as the session. */
  tryLogin(role: string, password: string): Promise<LoginOutcome>;
  close(): Promise<void>;
}

/** Opens sessions on credentials' databases. One adapter per engine (PostgreSQL: shared/adapters/postgres). */
export interface Databases {
  open(login: DatabaseLogin, options?: { signal?: AbortSignal }): Promise<DatabaseSession>;
}

/** A database could not be reached, or refused the administrative connection or a statement. */
export class DatabaseError extends RekeyError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext; retryable?: boolean } = {}) {
    super(message, options);
  }
}
