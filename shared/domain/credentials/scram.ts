import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's default (scram_iterations) since version 10. */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, as `pg_authid.rolpassword` holds it):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Computed here so that `ALTER ROLE … PASSWORD`
 * carries only the verifier: the clear password never reaches the server, its statement log or pg_stat_activity.
 *
 * rekey's generated passwords are printable ASCII, which SASLprep leaves unchanged. Other (adopted) passwords are
 * NFKC-normalised, the main part of SASLprep; a password SASLprep would map further may then not log in, which the
 * test-login step finds before anything is promoted.
 */
export function scramSha256Verifier(password: string, options: { salt?: Buffer; iterations?: number } = {}): string {
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  const salted = pbkdf2Sync(
    Buffer.from(/^[\x20-\x7e]*$/.test(password) ? password : password.normalize('NFKC'), 'utf8'),
    salt,
    iterations,
    32,
    'sha256',
  );
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Whether `text` has the shape of a SCRAM-SHA-256 verifier (what may go into a statement in place of a password). */
export const isScramVerifier = (text: string): boolean =>
  /^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(text);
