import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import type { FileWrites } from '../../../../shared/adapters/local/file-writes.js';
import { IntegrityError } from '../../../../shared/domain/errors.js';
import { beforeGroupCommits } from '../../../fixtures/group-commit-hook.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/** The in-process writers, recording each group commit's files (name and `fresh`). */
function recordingWrites(): FileWrites & { committed: { file: string; fresh: boolean }[] } {
  const committed: { file: string; fresh: boolean }[] = [];
  const writes = beforeGroupCommits((files) => {
    for (const f of files) committed.push({ file: decodeURIComponent(f.path.slice(f.path.lastIndexOf('/') + 1)), fresh: f.fresh === true });
  });
  return { ...writes, committed };
}

const fileOf = (dir: string, name: string) => join(dir, `${encodeURIComponent(name)}.vault`);

let root: string;
let dir: string;
let key: Buffer;
beforeEach(async () => {
  root = await makeTempDir('rekey-vault-fresh-');
  dir = join(root, 'vault');
  key = randomBytes(32);
});
afterEach(() => removeTempDir(root));

/** The entry file of `name` as a vault in another folder writes it with `withKey`: a complete box for that name. */
async function boxOf(name: string, withKey: Buffer): Promise<string> {
  const other = join(root, `other-${randomBytes(4).toString('hex')}`);
  await new FileVault(other, withKey).putCurrent(name, 'v1', 'some value');
  return readFile(fileOf(other, name), 'utf8');
}

describe('FileVault: the file of a new secret is made in place', () => {
  it('a sole vault marks the files of secrets with no entry and none in the index as fresh; a secret with an entry is not; a shared vault marks none', async () => {
    // Prepare
    const files = recordingWrites();
    const vault = new FileVault(dir, key, { sole: true, files });
    await vault.putCurrent('rekey/app/old', 'v1', 'old value');
    files.committed.length = 0;
    const shared = recordingWrites();
    // Act
    await Promise.all(['a', 'b', 'old'].map((n) => vault.putCurrent(`rekey/app/${n}`, 'v2', `value of ${n}`)));
    await new FileVault(dir, key, { files: shared }).putCurrent('rekey/app/c', 'v1', 'value of c');
    // Assess
    expect(files.committed.sort((x, y) => x.file.localeCompare(y.file))).toEqual([
      { file: 'rekey/app/a.vault', fresh: true },
      { file: 'rekey/app/b.vault', fresh: true },
      { file: 'rekey/app/old.vault', fresh: false },
    ]);
    expect(shared.committed).toEqual([{ file: 'rekey/app/c.vault', fresh: false }]);
    const next = new FileVault(dir, key, { sole: true });
    expect(await Promise.all(['a', 'b', 'c', 'old'].map(async (n) => (await next.getVersion(`rekey/app/${n}`))?.value))).toEqual([
      'value of a',
      'value of b',
      'value of c',
      'value of old',
    ]);
  });

  it.each([
    ['empty (killed right after it was made)', () => ''],
    ['cut short (killed while it was written)', (box: string) => box.slice(0, Math.floor(box.length / 2))],
  ])('a first write the index does not know, its file %s, reads as never written, and the next write replaces it', async (_, cut) => {
    // Prepare: an index (one secret written), and the cut file of another
    await new FileVault(dir, key, { sole: true }).putCurrent('rekey/app/old', 'v1', 'old value');
    await writeFile(fileOf(dir, 'rekey/app/cut'), cut(await boxOf('rekey/app/cut', key)));
    // Act
    const seenBySole = await new FileVault(dir, key, { sole: true }).getVersion('rekey/app/cut');
    const shared = new FileVault(dir, key);
    const seenByShared = await shared.describe('rekey/app/cut');
    await shared.putCurrent('rekey/app/cut', 'v1', 'written after the kill');
    // Assess
    expect(seenBySole).toBeUndefined();
    expect(seenByShared).toBeUndefined();
    expect((await new FileVault(dir, key, { sole: true }).getVersion('rekey/app/cut'))?.value).toBe('written after the kill');
  });

  it('a complete box that does not decrypt stays an error, index or not; so does a cut file of a secret the index knows', async () => {
    // Prepare
    const vault = new FileVault(dir, key, { sole: true });
    await vault.putCurrent('rekey/app/known', 'v1', 'known value');
    await writeFile(fileOf(dir, 'rekey/app/foreign'), await boxOf('rekey/app/foreign', randomBytes(32)));
    const known = await readFile(fileOf(dir, 'rekey/app/known'), 'utf8');
    await writeFile(fileOf(dir, 'rekey/app/known'), known.slice(0, 40));
    // Act
    const foreign = await new FileVault(dir, key, { sole: true }).getVersion('rekey/app/foreign').catch((e: unknown) => e);
    const cutKnown = await new FileVault(dir, key, { sole: true }).getVersion('rekey/app/known').catch((e: unknown) => e);
    // Assess
    expect(foreign).toBeInstanceOf(IntegrityError);
    expect(String(foreign)).toMatch(/rekey\/app\/foreign cannot be decrypted \(wrong REKEY_VAULT_KEY or damaged file\)/);
    expect(cutKnown).toBeInstanceOf(IntegrityError);
    expect(String(cutKnown)).toMatch(/rekey\/app\/known cannot be decrypted \(damaged file: not JSON\)/);
  });
});
