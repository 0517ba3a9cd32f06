import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IntegrityError } from '../../../../shared/domain/errors.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/** The files the vault opened to read. */
const reads = vi.hoisted(() => ({ paths: [] as string[] }));
vi.mock('../../../../shared/adapters/local/missing-ok.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../../shared/adapters/local/missing-ok.js')>();
  return {
    ...real,
    readTextOrUndefined: (path: string) => {
      reads.paths.push(path);
      return real.readTextOrUndefined(path);
    },
  };
});
const { FileVault } = await import('../../../../shared/adapters/local/file-vault.js');

let root: string;
let dir: string;
let key: Buffer;
beforeEach(async () => {
  root = await makeTempDir('rekey-vault-sole-');
  dir = join(root, 'vault');
  key = randomBytes(32);
  reads.paths = [];
});
afterEach(() => removeTempDir(root));

const entryReads = () => reads.paths.filter((p) => p.endsWith('.vault'));

describe('FileVault as the only writer of its folder (sole: the CLI holding the state lock)', () => {
  it('secrets that were never written are missing without a read of their file; once written they read back, also in the next process', async () => {
    // Prepare
    const first = new FileVault(dir, key, { sole: true });
    await first.putCurrent('rekey/app/old', 'v1', 'old value');
    const vault = new FileVault(dir, key, { sole: true });
    reads.paths = [];
    // Act
    const missing = await Promise.all(['a', 'b', 'c'].map((n) => vault.getVersion(`rekey/app/${n}`)));
    const existing = await vault.getVersion('rekey/app/old');
    const opened = entryReads().map((p) => p.slice(dir.length + 1));
    await vault.putCurrent('rekey/app/a', 'v1', 'value of a');
    const afterWrite = await vault.getVersion('rekey/app/a', { stage: Stage.Current });
    const next = await new FileVault(dir, key, { sole: true }).getVersion('rekey/app/a');
    // Assess
    expect(missing).toEqual([undefined, undefined, undefined]);
    expect(existing?.value).toBe('old value');
    expect(opened).toEqual([`${encodeURIComponent('rekey/app/old')}.vault`]);
    expect(afterWrite?.value).toBe('value of a');
    expect(next?.value).toBe('value of a');
  });

  it('keeps a bounded number of entries in memory: one it forgot is read again from its file, and written on from there', async () => {
    // Prepare: five secrets through a vault that remembers two
    const vault = new FileVault(dir, key, { sole: true, entryCacheSize: 2 });
    const names = ['a', 'b', 'c', 'd', 'e'].map((n) => `rekey/app/${n}`);
    for (const n of names) await vault.putCurrent(n, 'v1', `first of ${n}`);
    reads.paths = [];
    // Act
    await vault.putCurrent('rekey/app/a', 'v2', 'second of a');
    const recent = await vault.getVersion('rekey/app/e');
    const all = await Promise.all(names.map((n) => vault.getVersion(n, { stage: Stage.Current })));
    const previous = await vault.getVersion('rekey/app/a', { stage: Stage.Previous });
    // Assess: a was read from its file before its second version; e was still in memory
    const opened = entryReads().map((p) => p.slice(dir.length + 1));
    expect(opened[0]).toBe(`${encodeURIComponent('rekey/app/a')}.vault`);
    expect(opened).not.toContain(`${encodeURIComponent('rekey/app/e')}.vault`);
    expect(recent?.value).toBe('first of rekey/app/e');
    expect(all.map((v) => v?.value)).toEqual(['second of a', ...names.slice(1).map((n) => `first of ${n}`)]);
    expect(previous?.value).toBe('first of rekey/app/a');
    const next = new FileVault(dir, key, { sole: true });
    expect((await next.getVersion('rekey/app/a', { stage: Stage.Current }))?.versionId).toBe('v2');
  });

  it('an entry file deleted while the index records it is still refused, not read as never written', async () => {
    // Prepare
    await new FileVault(dir, key).putCurrent('rekey/app/db', 'v1', 'secret');
    await rm(join(dir, `${encodeURIComponent('rekey/app/db')}.vault`));
    // Act
    const error = await new FileVault(dir, key, { sole: true }).getVersion('rekey/app/db').catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/is missing .* it was deleted/);
  });

  it('without sole (a reader beside the lock holder), a secret another process wrote after the first read is found', async () => {
    // Prepare
    const reader = new FileVault(dir, key);
    const sole = new FileVault(dir, key, { sole: true });
    await reader.getVersion('rekey/app/x');
    // Act
    await sole.putCurrent('rekey/app/y', 'v1', 'written by the lock holder');
    const seen = await reader.getVersion('rekey/app/y');
    // Assess
    expect(seen?.value).toBe('written by the lock holder');
  });
});
