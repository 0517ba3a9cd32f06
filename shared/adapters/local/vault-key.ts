import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RekeyError, UsageError } from '../../domain/errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { readdirOrEmpty } from './missing-ok.js';
import { decodeBase64Strict } from './strict-base64.js';

const KEY_BYTES = 32;

/** `<state>/vault.key` cannot be used: unreadable content, or missing while the vault holds secrets. */
export class VaultKeyError extends RekeyError {}

/** 64 hex characters, or strict base64 of 32 bytes; undefined for anything else. */
export function parseVaultKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const key = decodeBase64Strict(text);
  return key?.length === KEY_BYTES ? key : undefined;
}

/**
 * The embedded vault's AES-256 key: REKEY_VAULT_KEY (64 hex chars or base64 of 32 bytes) when set, else
 * `<state>/vault.key`, generated on first use with mode 0600. With `create: false` (read-only commands) a
 * missing key file gives undefined: there is nothing stored yet. A missing key file next to a vault that holds
 * secrets is an error, never a new key: a new key cannot read them, and writing with it would mix keys.
 */
export async function loadVaultKey(
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { create?: boolean; warn?: (message: string) => void } = {},
): Promise<Buffer | undefined> {
  const fromEnv = env.REKEY_VAULT_KEY;
  if (fromEnv) {
    const key = parseVaultKey(fromEnv.trim());
    if (!key) throw new UsageError('REKEY_VAULT_KEY must be 32 bytes (64 hex characters or base64)');
    return key;
  }
  const path = join(stateDir, 'vault.key');
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new VaultKeyError(`${path} is a folder, not a vault key`, { context: { path } });
    if (code !== 'ENOENT') throw new VaultKeyError(`${path} cannot be read (${code ?? 'error'})`, { cause: e, context: { path } });
  }
  if (text !== undefined) {
    const key = parseVaultKey(text.trim());
    if (!key)
      throw new VaultKeyError(
        `${path} is not a vault key (expected 64 hex characters or base64 of 32 bytes); restore it from a backup or set REKEY_VAULT_KEY`,
        { context: { path } },
      );
    const mode = (await stat(path)).mode & 0o777;
    if (mode & 0o077) options.warn?.(`${path} is readable by group or others (mode 0${mode.toString(8)}): run chmod 600 ${path}`);
    return key;
  }
  const stored = (await readdirOrEmpty(join(stateDir, 'vault'))).filter((f) => f.endsWith('.vault')).length;
  if (stored > 0) {
    throw new VaultKeyError(
      `vault exists but its key is missing: ${join(stateDir, 'vault')} holds ${stored} secret(s) and ${path} is gone; restore vault.key from a backup or set REKEY_VAULT_KEY (a new key would not read them)`,
      { context: { path } },
    );
  }
  if (options.create === false) return undefined;
  const key = randomBytes(KEY_BYTES);
  await writeFileAtomic(path, key.toString('hex') + '\n', { mode: 0o600 });
  return key;
}
