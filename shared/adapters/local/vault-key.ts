import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../domain/errors.js';
import { writeFileAtomic } from './atomic-file.js';

/**
 * The embedded vault's AES-256 key: REKEY_VAULT_KEY (64 hex chars or base64 of 32 bytes) when set, else
 * `<state>/vault.key`, generated on first use with mode 0600. With `create: false` (read-only commands) a
 * missing key file gives undefined: there is nothing stored yet.
 */
export async function loadVaultKey(stateDir: string, env: NodeJS.ProcessEnv = process.env, options: { create?: boolean } = {}): Promise<Buffer | undefined> {
  const fromEnv = env.REKEY_VAULT_KEY;
  if (fromEnv) {
    const key = /^[0-9a-fA-F]{64}$/.test(fromEnv) ? Buffer.from(fromEnv, 'hex') : Buffer.from(fromEnv, 'base64');
    if (key.length !== 32) throw new UsageError('REKEY_VAULT_KEY must be 32 bytes (64 hex characters or base64)');
    return key;
  }
  const path = join(stateDir, 'vault.key');
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (options.create === false) return undefined;
  const key = randomBytes(32);
  await writeFileAtomic(path, key.toString('hex') + '\n', { mode: 0o600 });
  return key;
}
