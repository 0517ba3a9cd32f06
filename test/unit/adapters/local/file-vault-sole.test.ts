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
