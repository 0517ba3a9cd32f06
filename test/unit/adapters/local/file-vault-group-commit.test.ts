import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/** Counts the vault's commits: how many entry files each group commit wrote, and how often the index was written. */
const commits = vi.hoisted(() => ({ batches: [] as number[], indexWrites: 0 }));
vi.mock('../../../../shared/adapters/local/atomic-file.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../../shared/adapters/local/atomic-file.js')>();
  return {
    ...real,
    writeFileAtomic: (...args: Parameters<typeof real.writeFileAtomic>) => {
      if (args[0].endsWith('/index')) commits.indexWrites++;
      return real.writeFileAtomic(...args);
    },
    writeFilesAtomic: (files: Parameters<typeof real.writeFilesAtomic>[0]) => {
      commits.batches.push(files.length);
      return real.writeFilesAtomic(files);
    },
  };
});

const COUNT = 200;
const names = Array.from({ length: COUNT }, (_, i) => `rekey/bulk/svc-${i}`);

let root: string;
let dir: string;
let key: Buffer;
beforeEach(async () => {
  root = await makeTempDir('rekey-vault-group-');
  dir = join(root, 'vault');
  key = randomBytes(32);
  commits.batches = [];
  commits.indexWrites = 0;
});
afterEach(() => removeTempDir(root));

describe('FileVault group commit', () => {
  it('writes to many secrets at once share commits, and each is durable and indexed when it returns', async () => {
    // Prepare
    const vault = new FileVault(dir, key);
    // Act: every secret issued and promoted at the same time, as apply does with its leaves
    await Promise.all(
      names.map(async (name) => {
        await vault.putPending(name, 'v1', `value of ${name}`);
        await vault.promote(name, 'v1');
      }),
    );
    // Assess: all 400 versions written, in far fewer commits, each commit writing the index once (plus the first)
    expect(commits.batches.reduce((a, b) => a + b, 0)).toBe(2 * COUNT);
    expect(commits.batches.length).toBeLessThan(COUNT / 4);
    expect(commits.indexWrites).toBeLessThanOrEqual(commits.batches.length + 1);
    // ...a fresh reader (the next process) sees every current version
    const fresh = new FileVault(dir, key);
    for (const name of names) expect((await fresh.getVersion(name, { stage: Stage.Current }))?.value).toBe(`value of ${name}`);
    // ...and the index knows every entry: a deleted one is noticed
    await rm(join(dir, `${encodeURIComponent(names[7]!)}.vault`));
    await expect(new FileVault(dir, key).getVersion(names[7]!)).rejects.toThrow(/it was deleted/);
  });

  it('a file that cannot be written fails its own write only; the others of its commit succeed', async () => {
    // Prepare: a folder where one secret's file must go, so its rename fails
    const vault = new FileVault(dir, key);
    await vault.putPending(names[0]!, 'v0', 'first');
    await mkdir(join(dir, `${encodeURIComponent(names[1]!)}.vault`));
    // Act
    const results = await Promise.allSettled(names.slice(1, 20).map((name) => vault.putPending(name, 'v1', `value of ${name}`)));
    // Assess
    expect(results[0]!.status).toBe('rejected');
    expect(results.slice(1).every((r) => r.status === 'fulfilled')).toBe(true);
    const fresh = new FileVault(dir, key);
    for (const name of names.slice(2, 20)) expect((await fresh.getVersion(name, { stage: Stage.Pending }))?.value).toBe(`value of ${name}`);
    expect((await fresh.getVersion(names[0]!, { stage: Stage.Pending }))?.value).toBe('first');
  });
});
