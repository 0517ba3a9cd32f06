import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { FRESH_AT_ONCE, freshValue } from '../../../fixtures/vault-fresh-writer.js';
import { runWriterAndKill } from '../../../fixtures/kill-writer.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const WRITER = fileURLToPath(new URL('../../../fixtures/vault-fresh-writer.ts', import.meta.url));

/**
 * Starts the writer at secret `start`, SIGKILLs it `extraMs` after its `after`-th acknowledged write (or it kills
 * itself in the middle of group commit `killAt`); returns the acknowledged names.
 */
async function runAndKill(
  dir: string,
  key: Buffer,
  start: number,
  kill: { after: number; extraMs: number; killAt?: number },
): Promise<Set<string>> {
  const args = [dir, key.toString('hex'), String(start), ...(kill.killAt === undefined ? [] : [String(kill.killAt)])];
  return new Set(await runWriterAndKill(WRITER, args, kill.after, kill.extraMs));
}

let root: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-fresh-crash-');
});
afterAll(() => removeTempDir(root));

describe('FileVault crash safety of files made in place', () => {
  it('SIGKILL while new secrets are written: each reads as its complete value or as never written, none acknowledged is lost, and the next write replaces a cut one', async () => {
    // Prepare
    const dir = join(root, 'vault');
    const key = randomBytes(32);
    const kills: { after: number; extraMs: number; killAt?: number }[] = [
      { after: Infinity, extraMs: 0, killAt: 2 },
      { after: FRESH_AT_ONCE, extraMs: 0 },
      { after: 2 * FRESH_AT_ONCE + 5, extraMs: 2 },
      { after: 3 * FRESH_AT_ONCE, extraMs: 5 },
      { after: FRESH_AT_ONCE + 1, extraMs: 1 },
    ];
    for (let round = 0; round < kills.length; round++) {
      // Act: one writer per round, each on secrets of its own, killed mid-way
      const start = round * 100_000;
      const acked = await runAndKill(dir, key, start, kills[round]!);

      // Assess: every secret with a file, read by a new process of each kind, is complete or never written
      const names = (await readdir(dir))
        .filter((f) => f.endsWith('.vault'))
        .map((f) => decodeURIComponent(f.slice(0, -'.vault'.length)))
        .filter((n) => n.startsWith('rekey/fresh/') && Number(n.slice('rekey/fresh/'.length)) >= start);
      for (const n of acked) expect(names).toContain(n);
      const sole = new FileVault(dir, key, { sole: true });
      const shared = new FileVault(dir, key);
      const cut: string[] = [];
      for (const name of names) {
        const i = Number(name.slice('rekey/fresh/'.length));
        const [bySole, byShared] = [await sole.getVersion(name), await shared.getVersion(name)];
        expect(byShared?.value, name).toBe(bySole?.value);
        if (bySole) expect(bySole.value, name).toBe(freshValue(i));
        else {
          expect(acked.has(name), `${name} was acknowledged`).toBe(false);
          cut.push(name);
        }
      }
      if (round === 0) expect(cut.length).toBeGreaterThan(0); // the commit cut in the middle: its files are there, cut
      // ...and a cut secret is written again over its file
      for (const name of cut) await sole.putCurrent(name, 'again', 'written after the kill');
      for (const name of cut) expect((await new FileVault(dir, key).getVersion(name))?.value).toBe('written after the kill');
    }
  }, 60_000);
});
