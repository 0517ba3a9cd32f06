import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { inProcessFileWrites, type FileWrites } from '../../../../shared/adapters/local/file-writes.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

// Found by the crash test (test/integration/crash): a writer killed between an entry and the index leaves the entry
// one generation ahead, which is accepted; if the next writer of that entry is killed at the same point, the entry
// must not end two ahead (which reads as "the index was put back" and locks the vault for good).

const NAME = 'rekey/shop/web';
let dir: string;
const key = randomBytes(32);
beforeEach(async () => {
  dir = await makeTempDir('rekey-vault-kill-twice-');
});
afterEach(async () => {
  await removeTempDir(dir);
});

describe('FileVault killed twice between an entry and the index', () => {
  it('the second writer records the entry it found ahead before writing on, so its own kill leaves it one ahead only', async () => {
    // Prepare: first writer: a pending version, then a promotion killed before its index write
    const first = new FileVault(join(dir, 'vault'), key);
    await first.putPending(NAME, 'v1', '{}');
    const indexBeforePromote = await readFile(join(dir, 'vault', 'index'));
    await first.promote(NAME, 'v1');
    await writeFile(join(dir, 'vault', 'index'), indexBeforePromote);
    // Act: second writer, killed once its entry write is done (its index write after that entry never happens,
    // whether the line goes with the entry's commit or on its own)
    let entryWritten = false;
    const killedAfterEntry: FileWrites = {
      ...inProcessFileWrites,
      async writeDurably(files) {
        const written = await inProcessFileWrites.writeDurably(files);
        entryWritten = true;
        return written;
      },
      async appendDurably(path, data) {
        if (entryWritten) throw new Error('killed');
        return inProcessFileWrites.appendDurably(path, data);
      },
      async writeDurablyThenAppend(files) {
        const written = await this.writeDurably(files);
        return { files: written, appended: { status: 'rejected', reason: new Error('killed') } };
      },
    };
    const second = new FileVault(join(dir, 'vault'), key, { files: killedAfterEntry });
    const killed = await second.putPending(NAME, 'v2', '{}').catch((e: unknown) => e);
    // Assess: a third process reads the vault
    const third = new FileVault(join(dir, 'vault'), key);
    expect(killed).toBeInstanceOf(Error);
    expect((await third.getVersion(NAME, { stage: Stage.Current }))?.versionId).toBe('v1');
    expect((await third.getVersion(NAME, { stage: Stage.Pending }))?.versionId).toBe('v2');
  });
});
