import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { CRASH_SECRETS } from '../../../fixtures/vault-writer.js';
import { runWriterAndKill } from '../../../fixtures/kill-writer.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const WRITER = fileURLToPath(new URL('../../../fixtures/vault-writer.ts', import.meta.url));

/**
 * Starts the writer, waits until it acknowledged `afterLines` promotions (plus a random few ms, so the kill
 * lands anywhere in the next write), then SIGKILLs it. Returns the last acknowledged index per secret.
 */
async function runAndKill(dir: string, key: Buffer, start: number, afterLines: number, extraMs: number): Promise<Map<string, number>> {
  const acked = new Map<string, number>();
  for (const line of await runWriterAndKill(WRITER, [dir, key.toString('hex'), String(start)], afterLines, extraMs)) {
    const [name, i] = line.split(' ');
    acked.set(name!, Number(i));
  }
  return acked;
}

let root: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-crash-');
});
afterAll(() => removeTempDir(root));

describe('FileVault crash safety', () => {
  it('survives SIGKILL in the middle of writes: every secret decrypts, AWSCURRENT is a complete acknowledged version, temp files are not data', async () => {
    // Prepare
    const dir = join(root, 'vault');
    const key = randomBytes(32);
    const kills = [
      { after: 3, extraMs: 0 },
      { after: 10, extraMs: 3 },
      { after: 20, extraMs: 1 },
    ];
    const lastAcked = new Map<string, number>();
    for (let round = 0; round < kills.length; round++) {
      // Act: one writer per round, killed mid-way
      const acked = await runAndKill(dir, key, round * 100_000, kills[round]!.after, kills[round]!.extraMs);
      for (const [name, i] of acked) lastAcked.set(name, i);

      // Assess: a fresh reader (no cache) sees a consistent vault
      const vault = new FileVault(dir, key);
      expect(await vault.list('rekey/crash/')).toEqual([...CRASH_SECRETS].sort());
      for (const name of CRASH_SECRETS) {
        const description = (await vault.describe(name))!;
        const current = description.versions.filter((v) => v.stages.includes(Stage.Current));
        expect(current, `${name} after kill ${round}`).toHaveLength(1);
        expect(description.versions.filter((v) => v.stages.includes(Stage.Pending)).length).toBeLessThanOrEqual(1);
        const value = JSON.parse((await vault.getVersion(name))!.value) as { i: number; payload: string; sha256: string };
        // complete: the payload matches its own checksum
        expect(createHash('sha256').update(value.payload).digest('hex')).toBe(value.sha256);
        expect(value.payload.startsWith(`${name}#${value.i}:`)).toBe(true);
        // durable: what was acknowledged before the kill is there (or something newer)
        const acknowledged = lastAcked.get(name);
        if (acknowledged !== undefined) expect(value.i).toBeGreaterThanOrEqual(acknowledged);
      }
    }
    // Temp files a killed writer left behind are ignored by list() and never read as secrets
    const files = await readdir(dir);
    expect(files.filter((f) => f.endsWith('.vault')).sort()).toEqual(CRASH_SECRETS.map((n) => `${encodeURIComponent(n)}.vault`).sort());
    expect(files.every((f) => f.endsWith('.vault') || f === 'index' || /^\..*\.tmp$/.test(f))).toBe(true);
    // ...and the vault goes on working; its first write clears the killed writers' temp files
    const vault = new FileVault(dir, key);
    const pending = await vault.getVersion(CRASH_SECRETS[0]!, { stage: Stage.Pending });
    if (pending) await vault.discardPending(CRASH_SECRETS[0]!, pending.versionId);
    await vault.putPending(CRASH_SECRETS[0]!, 'after-crash', '{"i":-1}');
    await vault.promote(CRASH_SECRETS[0]!, 'after-crash');
    expect((await new FileVault(dir, key).getVersion(CRASH_SECRETS[0]!))!.versionId).toBe('after-crash');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 30_000);
});
