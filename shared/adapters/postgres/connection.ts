import type { ConnectionOptions } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../domain/errors.js';
import { defined } from '../../domain/defined.js';

/** libpq's sslmode values, as rekey honours them (node-postgres has no plaintext fallback, see `tlsFor`). */
export const SslMode = {
  Disable: 'disable',
  Allow: 'allow',
  Prefer: 'prefer',
  Require: 'require',
  VerifyCa: 'verify-ca',
  VerifyFull: 'verify-full',
} as const;
export type SslMode = (typeof SslMode)[keyof typeof SslMode];
const SSL_MODES: readonly string[] = Object.values(SslMode);

/** Where and how to connect, with the admin's login. Holds a password: never log it, never put it in an error. */
export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password?: string;
  readonly sslMode: SslMode;
  /** PEM of the CA(s) that must have signed the server's certificate (`sslrootcert`). */
  readonly ca?: string;
}

/** How `urlFrom` reads: the environment, a file, or a secret of the AWS Secrets Manager the runtime uses. */
export interface UrlSources {
  readonly env: NodeJS.ProcessEnv;
  /** The current value of a Secrets Manager secret (undefined when missing). */
  readonly readSecret?: (name: string) => Promise<string | undefined>;
}

/** The text `urlFrom` points at: a postgresql:// URL, or (Secrets Manager) the JSON RDS keeps for a database. */
export async function readUrlSource(urlFrom: string, sources: UrlSources): Promise<string> {
  const colon = urlFrom.indexOf(':');
  const scheme = urlFrom.slice(0, colon);
  const ref = urlFrom.slice(colon + 1);
  let text: string | undefined;
  switch (scheme) {
    case 'env':
      text = sources.env[ref];
      break;
    case 'file':
      text = await readFile(ref, 'utf8').catch((e: unknown) => {
        throw new UsageError(`urlFrom ${urlFrom}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      });
      break;
    case 'secretsmanager':
      if (!sources.readSecret)
        throw new UsageError(`urlFrom ${urlFrom}: no Secrets Manager in this runtime (use --backend aws, or env:/file:)`);
      text = await sources.readSecret(ref);
      break;
    default:
      throw new UsageError(`urlFrom ${urlFrom}: expected env:VAR, file:PATH or secretsmanager:NAME`);
  }
  if (!text?.trim()) throw new UsageError(`urlFrom ${urlFrom}: empty or not set`);
  return text.trim();
}

/** RDS's secret layout (`{engine, host, port, username, password, dbname}`), plus rekey's `url`, `sslmode`, `ca`. */
interface SecretJson {
  readonly url?: unknown;
  readonly host?: unknown;
  readonly port?: unknown;
  readonly username?: unknown;
  readonly password?: unknown;
  readonly dbname?: unknown;
  readonly sslmode?: unknown;
  readonly ca?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Parses what `urlFrom` gave into a connection target. Errors name what is wrong and never quote the text (it
 * holds the admin password). `sslrootcert=PATH` in the URL is read as the CA.
 */
export async function parseConnection(text: string, urlFrom: string): Promise<ConnectionTarget> {
  if (text.startsWith('{')) {
    let json: SecretJson;
    try {
      json = JSON.parse(text) as SecretJson;
    } catch {
      throw new UsageError(`urlFrom ${urlFrom}: neither a postgresql:// URL nor JSON`);
    }
    if (str(json.url)) return parseConnection(defined(str(json.url)), urlFrom);
    const host = str(json.host);
    const user = str(json.username);
    if (!host || !user) throw new UsageError(`urlFrom ${urlFrom}: the JSON needs host and username (or url)`);
    const sslMode = sslModeOf(str(json.sslmode), urlFrom);
    const password = str(json.password);
    const ca = str(json.ca);
    return {
      host,
      port: Number(json.port ?? 5432),
      database: str(json.dbname) ?? 'postgres',
      user,
      sslMode,
      ...(password && { password }),
      ...(ca && { ca }),
    };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`urlFrom ${urlFrom}: not a valid URL`);
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:')
    throw new UsageError(`urlFrom ${urlFrom}: expected a postgresql:// URL, got ${url.protocol}//`);
  const user = decodeURIComponent(url.username);
  if (!user || !url.hostname) throw new UsageError(`urlFrom ${urlFrom}: the URL needs a user and a host`);
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  const sslMode = sslModeOf(url.searchParams.get('sslmode') ?? undefined, urlFrom);
  const rootCert = url.searchParams.get('sslrootcert');
  const ca = rootCert
    ? await readFile(rootCert, 'utf8').catch((e: unknown) => {
        throw new UsageError(`urlFrom ${urlFrom}: cannot read sslrootcert ${rootCert} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      })
    : undefined;
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 5432,
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || user,
    user,
    sslMode,
    ...(password && { password }),
    ...(ca && { ca }),
  };
}

function sslModeOf(value: string | undefined, urlFrom: string): SslMode {
  if (value === undefined) return SslMode.Prefer;
  if (!SSL_MODES.includes(value)) throw new UsageError(`urlFrom ${urlFrom}: sslmode "${value}" is not one of ${SSL_MODES.join(', ')}`);
  return value as SslMode;
}

/**
 * node-postgres' TLS options for an sslmode, with libpq's meaning: `require` encrypts without checking the server
 * (unless a CA is given: then, as libpq does with a root certificate, it checks the chain like `verify-ca`);
 * `verify-ca` checks the chain, not the name; `verify-full` checks both. `allow` and `prefer` encrypt without
 * checking and, unlike libpq, never fall back to plaintext (a server without TLS then refuses the connection).
 */
export function tlsFor(target: Pick<ConnectionTarget, 'sslMode' | 'ca' | 'host'>): false | ConnectionOptions {
  const ca = target.ca ? { ca: target.ca } : {};
  switch (target.sslMode) {
    case SslMode.Disable:
      return false;
    case SslMode.Allow:
    case SslMode.Prefer:
      return { rejectUnauthorized: false };
    case SslMode.Require:
      return target.ca ? { ...ca, rejectUnauthorized: true, checkServerIdentity: () => undefined } : { rejectUnauthorized: false };
    case SslMode.VerifyCa:
      return { ...ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case SslMode.VerifyFull:
      return { ...ca, rejectUnauthorized: true };
    default: {
      const never: never = target.sslMode;
      throw new Error(`unknown sslmode ${String(never)}`);
    }
  }
}
