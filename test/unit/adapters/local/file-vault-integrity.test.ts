import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { IntegrityError } from '../../../../shared/domain/errors.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const NAME = 'rekey/shop/web';
const FILE = `${encodeURIComponent(NAME)}.vault`;

let root: string;
let dir: string;
let key: Buffer;

beforeEach(async () => {
  root = await makeTempDir('rekey-vault-integrity-');
  dir = join(root, 'vault');
  key = randomBytes(32);
});
afterEach(() => removeTempDir(root));

/** A fresh reader: no cache, as the next rekey process. */
const reader = () => new FileVault(dir, key);

async function issue(vault: FileVault, versionId: string, value: string): Promise<void> {
  await vault.putPending(NAME, versionId, value);
  await vault.promote(NAME, versionId);
}

type Box = { v: unknown; iv: string; tag: string; data: string };
const readBox = async (): Promise<Box> => JSON.parse(await readFile(join(dir, FILE), 'utf8')) as Box;
const writeBox = (box: Box) => writeFile(join(dir, FILE), JSON.stringify(box));

describe('FileVault refuses boxes that are not exactly its format', () => {
  it.each([4, 8, 12, 15])('an authentication tag cut to %i bytes is refused (GCM tags are 16 bytes)', async (bytes) => {
    // Prepare
    await issue(reader(), 'v1', 'one');
    const box = await readBox();
    await writeBox({ ...box, tag: Buffer.from(box.tag, 'base64').subarray(0, bytes).toString('base64') });
    // Act
    const read = reader().getVersion(NAME);
    // Assess
    await expect(read).rejects.toBeInstanceOf(IntegrityError);
    await expect(reader().getVersion(NAME)).rejects.toThrow(/authentication tag must be 16 bytes/);
  });

  it.each([[2], ['1'], [null], [undefined]])('format field v=%s is refused, naming the format', async (v) => {
    // Prepare
    await issue(reader(), 'v1', 'one');
    await writeBox({ ...(await readBox()), v });
    // Act + Assess
    await expect(reader().getVersion(NAME)).rejects.toThrow(/unknown format v=.*this rekey reads v1/);
  });

  it.each([
    ['tag', (b: Box) => ({ ...b, tag: `${b.tag.slice(0, 4)}!${b.tag.slice(5)}` })],
    ['iv', (b: Box) => ({ ...b, iv: `*${b.iv.slice(1)}` })],
    ['data', (b: Box) => ({ ...b, data: `${b.data} ` })],
  ])('a junk character in the base64 of %s is refused, not skipped', async (_field, damage) => {
    // Prepare
    await issue(reader(), 'v1', 'one');
    await writeBox(damage(await readBox()));
    // Act + Assess
    await expect(reader().getVersion(NAME)).rejects.toBeInstanceOf(IntegrityError);
  });
});

describe('FileVault seals each write with an IV of its own', () => {
  it('no two of 600 sealed files (more than two draws of IVs) share an IV, and each reads back', async () => {
    // Prepare
    const vault = new FileVault(dir, key);
    const names = Array.from({ length: 600 }, (_, i) => `rekey/shop/s${i}`);
    // Act
    await Promise.all(names.map((n, i) => vault.putCurrent(n, `v${i}`, `value-${i}`)));
    // Assess
    const files = (await readdir(dir)).filter((f) => f.endsWith('.vault'));
    const ivs = await Promise.all(files.map(async (f) => (JSON.parse(await readFile(join(dir, f), 'utf8')) as Box).iv));
    expect(files).toHaveLength(600);
    expect(new Set(ivs).size).toBe(600);
    expect(ivs.every((iv) => Buffer.from(iv, 'base64').length === 12)).toBe(true);
    expect((await reader().getVersion('rekey/shop/s599'))?.value).toBe('value-599');
  });

  it('a sealed file is the box as JSON.stringify writes it: v, iv, tag, data in that order, nothing else', async () => {
    // Prepare
    await issue(reader(), 'v1', 'line one\nline "two"\n');
    // Act
    const text = await readFile(join(dir, FILE), 'utf8');
    // Assess
    const box = JSON.parse(text) as Box;
    expect(text).toBe(JSON.stringify({ v: box.v, iv: box.iv, tag: box.tag, data: box.data }));
    expect(box.v).toBe(1);
    expect(Buffer.from(box.tag, 'base64')).toHaveLength(16);
    expect((await reader().getVersion(NAME))?.value).toBe('line one\nline "two"\n');
  });
});

describe('FileVault detects a vault file put back from an older copy (rollback)', () => {
  it('an older copy of a secret is refused with a clear error; the newest copy reads again', async () => {
    // Prepare: v1 current, a copy taken, then v2 promoted
    const vault = reader();
    await issue(vault, 'v1', 'one');
    await copyFile(join(dir, FILE), join(root, 'old-copy'));
    await issue(vault, 'v2', 'two');
    await copyFile(join(dir, FILE), join(root, 'new-copy'));
    // Act
    await copyFile(join(root, 'old-copy'), join(dir, FILE));
    const rolledBack = reader().getVersion(NAME);
    // Assess
    await expect(rolledBack).rejects.toBeInstanceOf(IntegrityError);
    await expect(reader().getVersion(NAME)).rejects.toThrow(
      /rekey\/shop\/web is an older copy \(generation 2, the vault index records 4\).*put back/,
    );
    await expect(reader().putPending(NAME, 'v3', 'three')).rejects.toBeInstanceOf(IntegrityError);
    await copyFile(join(root, 'new-copy'), join(dir, FILE));
    expect((await reader().getVersion(NAME))!.value).toBe('two');
  });

  it('a deleted secret file, a deleted index and an older index are refused', async () => {
    // Prepare
    const vault = reader();
    await issue(vault, 'v1', 'one');
    await copyFile(join(dir, 'index'), join(root, 'old-index'));
    await issue(vault, 'v2', 'two');
    await issue(vault, 'v3', 'three');
    await copyFile(join(dir, FILE), join(root, 'entry'));
    await copyFile(join(dir, 'index'), join(root, 'index'));
    // Act + Assess: entry deleted
    await rm(join(dir, FILE));
    await expect(reader().getVersion(NAME)).rejects.toThrow(/is missing .* the vault index records generation 6: it was deleted/);
    await copyFile(join(root, 'entry'), join(dir, FILE));
    // index deleted
    await rm(join(dir, 'index'));
    await expect(reader().getVersion(NAME)).rejects.toThrow(/vault index .* is missing but rekey\/shop\/web has generation 6/);
    // index put back from before two writes
    await copyFile(join(root, 'old-index'), join(dir, 'index'));
    await expect(reader().getVersion(NAME)).rejects.toThrow(/vault index .* is older than entry/);
    await copyFile(join(root, 'index'), join(dir, 'index'));
    expect((await reader().getVersion(NAME))!.value).toBe('three');
  });

  it('a crash between the secret write and the index write (entry one generation ahead) is not a rollback', async () => {
    // Prepare: the index as it was before the last write = a kill after the entry's rename, before the index's
    const vault = reader();
    await issue(vault, 'v1', 'one');
    await vault.putPending(NAME, 'v2', 'two');
    await copyFile(join(dir, 'index'), join(root, 'index-before'));
    await vault.promote(NAME, 'v2');
    await copyFile(join(root, 'index-before'), join(dir, 'index'));
    // Act
    const next = reader();
    const current = await next.getVersion(NAME);
    await issue(next, 'v3', 'three');
    // Assess
    expect(current!.value).toBe('two');
    expect((await reader().getVersion(NAME))!.value).toBe('three');
  });

  it('a vault of an earlier rekey (no index, entries without generation) reads, and is indexed on the next write', async () => {
    // Prepare: an entry as earlier rekeys wrote it, without generation, and no index
    await issue(reader(), 'v1', 'one');
    await rm(join(dir, 'index'));
    const legacy = new FileVault(dir, key) as unknown as { seal(aad: string, plain: string): string };
    const entry = {
      name: NAME,
      tags: {},
      versions: [{ versionId: 'v1', stages: [Stage.Current], createdAt: '2030-01-01T00:00:00.000Z', value: 'one' }],
    };
    await writeFile(join(dir, FILE), legacy.seal(NAME, JSON.stringify(entry)));
    await copyFile(join(dir, FILE), join(root, 'legacy-copy'));
    // Act
    const before = await reader().getVersion(NAME);
    await issue(reader(), 'v2', 'two');
    // Assess: the legacy copy put back after an indexed write is a rollback
    expect(before!.value).toBe('one');
    expect((await readdir(dir)).sort()).toEqual(['index', FILE]);
    await copyFile(join(root, 'legacy-copy'), join(dir, FILE));
    await expect(reader().getVersion(NAME)).rejects.toThrow(/older copy/);
  });
});

describe('FileVault clears temporary files a killed writer left', () => {
  it('the first write removes stale temporaries (dead writer pid, or the older naming), keeps live ones and other files', async () => {
    // Prepare: a pid that has certainly exited, and one that is alive (this process's parent)
    await issue(reader(), 'v1', 'one');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const names = {
      deadWriter: `.${FILE}.${dead}-0123456789ab.tmp`,
      olderNaming: `.${FILE}.0123456789ab.tmp`,
      liveWriter: `.${FILE}.${process.ppid}-0123456789ab.tmp`,
      notOurs: 'notes.tmp',
    };
    for (const n of Object.values(names)) await writeFile(join(dir, n), 'partial');
    // Act
    const reading = await reader().getVersion(NAME);
    const afterRead = await readdir(dir);
    await issue(reader(), 'v2', 'two');
    // Assess: reading writes nothing; writing clears only the stale ones
    expect(reading!.value).toBe('one');
    expect(afterRead).toEqual(expect.arrayContaining(Object.values(names)));
    const left = await readdir(dir);
    expect(left).not.toContain(names.deadWriter);
    expect(left).not.toContain(names.olderNaming);
    expect(left).toEqual(expect.arrayContaining([names.liveWriter, names.notOurs]));
  });
});
