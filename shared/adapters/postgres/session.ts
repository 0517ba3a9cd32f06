import type { Client, ClientConfig, QueryResult } from 'pg';
import { defined } from '../../domain/defined.js';
import { isScramVerifier } from '../../domain/credentials/scram.js';
import { IntegrityError } from '../../domain/errors.js';
import type { DatabaseLogin } from '../../domain/inventory/model.js';
import { DatabaseError, LoginOutcome, type DatabaseSession, type Databases } from '../../ports/database.js';
import { parseConnection, readUrlSource, tlsFor, type ConnectionTarget, type UrlSources } from './connection.js';
import { CREATE_ROLE_DEFAULTS, roleClauses, type RoleAttributes, type RoleClause } from './role-attributes.js';

const CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 15_000;

/** SQLSTATEs of a refused login: invalid_password, invalid_authorization_specification (NOLOGIN, no hba entry). */
const LOGIN_REFUSED = new Set(['28P01', '28000']);
/** Connection-level failures worth another attempt: the server starting, shutting down, or too busy. */
const RETRYABLE = new Set(['57P03', '53300', '57P01', '08006', '08001', '08004']);

const sqlstate = (e: unknown): string | undefined =>
  e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

/**
 * Translates a node-postgres error: SQLSTATE and the server's message (which never carries a password: none is
 * ever in statement text), network errors as retryable. The original is kept only as the cause.
 */
function translate(e: unknown, what: string, login: DatabaseLogin): DatabaseError {
  const code = sqlstate(e);
  const message = e instanceof Error ? e.message : String(e);
  const network = code !== undefined && /^E[A-Z]+$/.test(code);
  const timeout = /timeout/i.test(message);
  return new DatabaseError(`${what} on the database of role ${login.role}: ${message}${code && !network ? ` (SQLSTATE ${code})` : ''}`, {
    cause: e,
    context: { role: login.role },
    retryable: network || timeout || (code !== undefined && RETRYABLE.has(code)),
  });
}

type PgModule = typeof import('pg').default;
let pgModule: PgModule | undefined;
/** node-postgres, loaded by the first `open`: the Lambda functions bundle it, and most invocations never open a session. */
async function loadPg(): Promise<void> {
  pgModule ??= (await import('pg')).default;
}
/** node-postgres, once `open` has loaded it (every session comes from `open`). */
const pgLoaded = (): PgModule => defined(pgModule, 'node-postgres, loaded by PostgresDatabases.open');

const clientConfig = (target: ConnectionTarget, user: string, password: string | undefined): ClientConfig => ({
  host: target.host,
  port: target.port,
  database: target.database,
  user,
  ...(password !== undefined && { password }),
  ssl: tlsFor(target),
  connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  query_timeout: QUERY_TIMEOUT_MS,
  application_name: 'rekey',
});

interface RoleRow {
  readonly rolname: string;
  readonly rolsuper: boolean;
  readonly rolcreatedb: boolean;
  readonly rolcreaterole: boolean;
  readonly rolinherit: boolean;
  readonly rolreplication: boolean;
  readonly rolbypassrls: boolean;
  readonly rolconnlimit: number;
  readonly rolvaliduntil: string | null;
}

const attributesOf = (row: RoleRow): RoleAttributes => ({
  superuser: row.rolsuper,
  createdb: row.rolcreatedb,
  createrole: row.rolcreaterole,
  inherit: row.rolinherit,
  replication: row.rolreplication,
  bypassrls: row.rolbypassrls,
  connectionLimit: row.rolconnlimit,
  // 'infinity' is what VALID UNTIL 'infinity' leaves behind: no expiry, as NULL.
  ...(row.rolvaliduntil !== null && row.rolvaliduntil !== 'infinity' && { validUntil: row.rolvaliduntil }),
});

/** A clause as SQL: values are numbers or quoted literals, never anything secret. */
function renderClause(c: RoleClause): string {
  if ('number' in c) return `${c.keyword} ${String(Math.trunc(c.number))}`;
  if ('literal' in c) return `${c.keyword} ${pgLoaded().escapeLiteral(c.literal)}`;
  return c.keyword;
}

/** What a session does on the server, for counting (benchmarks, metrics): never carries statement text. */
export type DatabaseActivity = 'connect' | 'statement' | 'login';

/** One admin connection to a credential's PostgreSQL, opened lazily on the first statement. */
class PostgresSession implements DatabaseSession {
  private client: Promise<Client> | undefined;

  constructor(
    private readonly login: DatabaseLogin,
    private readonly target: ConnectionTarget,
    private readonly observe: (a: DatabaseActivity) => void,
  ) {}

  private connection(): Promise<Client> {
    this.client ??= (async () => {
      const client = new (pgLoaded().Client)(clientConfig(this.target, this.target.user, this.target.password));
      // A connection dropped later surfaces as the next query's error; this keeps it from crashing the process.
      client.on('error', () => undefined);
      try {
        this.observe('connect');
        await client.connect();
      } catch (e) {
        this.client = undefined;
        throw translate(e, 'admin connection failed', this.login);
      }
      return client;
    })();
    return this.client;
  }

  private async run(what: string, text: string, values?: unknown[]): Promise<QueryResult> {
    const client = await this.connection();
    try {
      this.observe('statement');
      return await client.query(text, values);
    } catch (e) {
      throw translate(e, what, this.login);
    }
  }

  async roleExists(role: string): Promise<boolean> {
    const result = await this.run('reading roles', 'SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [role]);
    return result.rowCount === 1;
  }

  async createAlternate(role: string, alternate: string): Promise<void> {
    const r = pgLoaded().escapeIdentifier(role);
    const alt = pgLoaded().escapeIdentifier(alternate);
    // One read for both: the role's attributes to copy, and whether (and how) the alternate exists already.
    const rows = await this.run(
      `reading the attributes of ${role}`,
      `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolconnlimit,
              rolvaliduntil::text AS rolvaliduntil
         FROM pg_catalog.pg_roles WHERE rolname IN ($1, $2)`,
      [role, alternate],
    );
    const found = new Map((rows.rows as RoleRow[]).map((row) => [row.rolname, attributesOf(row)]));
    const wanted = found.get(role);
    if (!wanted)
      throw new DatabaseError(`role ${role} does not exist: create it before rotating its password`, {
        context: { role: this.login.role },
      });
    const existing = found.get(alternate);
    // The alternate is a clone of the role (AWS's alternating users): its flags, connection limit and expiry, kept in
    // step with the role at every rotation (only what differs is written: usually nothing).
    const clauses = roleClauses(wanted, existing ?? CREATE_ROLE_DEFAULTS).map(renderClause);
    if (!existing) await this.run(`creating role ${alternate}`, `CREATE ROLE ${alt} WITH LOGIN ${clauses.join(' ')}`.trimEnd());
    else if (clauses.length)
      await this.run(`copying the attributes of ${role} to ${alternate}`, `ALTER ROLE ${alt} WITH ${clauses.join(' ')}`);
    await this.run(`granting ${role} to ${alternate}`, `GRANT ${r} TO ${alt}`);
    // Sessions of the alternate act as the role itself: objects they create belong to the role, as before.
    await this.run(`setting the role of ${alternate}`, `ALTER ROLE ${alt} SET role = ${pgLoaded().escapeLiteral(role)}`);
  }

  async setPasswordVerifier(role: string, verifier: string): Promise<void> {
    // Only a verifier may go into the statement: anything else could be a clear password the server would log.
    if (!isScramVerifier(verifier))
      throw new IntegrityError(`refusing to set the password of ${role}: not a SCRAM-SHA-256 verifier`, { context: { role } });
    await this.run(
      `setting the password of ${role}`,
      `ALTER ROLE ${pgLoaded().escapeIdentifier(role)} WITH LOGIN PASSWORD ${pgLoaded().escapeLiteral(verifier)}`,
    );
  }

  async tryLogin(role: string, password: string): Promise<LoginOutcome> {
    const client = new (pgLoaded().Client)(clientConfig(this.target, role, password));
    client.on('error', () => undefined);
    try {
      this.observe('login');
      await client.connect();
      await client.query('SELECT 1');
      return LoginOutcome.Accepted;
    } catch (e) {
      if (LOGIN_REFUSED.has(sqlstate(e) ?? '')) return LoginOutcome.Refused;
      throw translate(e, `login as ${role} failed`, this.login);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await (await client.catch(() => undefined))?.end().catch(() => undefined);
  }
}

/**
 * PostgreSQL through node-postgres: each `open` reads `urlFrom` afresh (a rotated admin password is picked up) and
 * returns a session that connects on its first statement.
 */
export class PostgresDatabases implements Databases {
  constructor(
    private readonly sources: UrlSources,
    private readonly options: { observe?: (activity: DatabaseActivity) => void } = {},
  ) {}

  async open(login: DatabaseLogin): Promise<DatabaseSession> {
    const text = await readUrlSource(login.urlFrom, this.sources);
    await loadPg();
    return new PostgresSession(login, await parseConnection(text, login.urlFrom), this.options.observe ?? (() => undefined));
  }
}
