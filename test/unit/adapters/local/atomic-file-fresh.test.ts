import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FILESYSTEM_SYNC_MIN_FILES, writeFilesAtomic } from '../../../../shared/adapters/local/atomic-file.js';
import { asyncFdCalls, type FdCalls } from '../../../../shared/adapters/local/fd-calls.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/** The real file calls, recording every path opened and every rename; `failWrite`: the data whose write fails. */
function recordingCalls(failWrite?: string): FdCalls & { opened: string[]; renamed: string[] } {
  const opened: string[] = [];
  const renamed: string[] = [];
  return {
    ...asyncFdCalls,
    opened,
    renamed,
    async openFd(path, flags, mode) {
      const fd = await asyncFdCalls.openFd(path, flags, mode);
      opened.push(path);
      return fd;
    },
    async renamePath(from, to) {
      renamed.push(`${from} -> ${to}`);
      await asyncFdCalls.renamePath(from, to);
    },
    async writeAllFd(fd, data) {
      if (failWrite !== undefined && String(data) === failWrite) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
      await asyncFdCalls.writeAllFd(fd, data);
    },
  };
}

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-fresh-');
});
afterEach(() => removeTempDir(dir));

const fresh = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ path: join(dir, `svc-${i}.vault`), data: `entry ${i}\n`, mode: 0o600, fresh: true }));

describe('writeFilesAtomic: fresh files are made in place', () => {
  it.each([2, FILESYSTEM_SYNC_MIN_FILES])(
    'a batch of %i fresh files opens each file under its own name, renames nothing, and leaves each with its data, mode 0600',
    async (n) => {
      // Prepare
      const files = fresh(n);
      const calls = recordingCalls();
      // Act
      const outcomes = await writeFilesAtomic(files, calls);
      // Assess
      expect(outcomes.map((o) => o.status)).toEqual(files.map(() => 'fulfilled'));
      expect(calls.opened.filter((p) => p.endsWith('.vault')).sort()).toEqual(files.map((f) => f.path).sort());
      expect(calls.renamed).toEqual([]);
      for (const f of files) {
        expect(await readFile(f.path, 'utf8')).toBe(f.data);
        expect((await stat(f.path)).mode & 0o777).toBe(0o600);
      }
      expect((await readdir(dir)).sort()).toEqual(files.map((f) => f.path.slice(dir.length + 1)).sort());
    },
  );

  it('a fresh file that exists after all is written through a temporary file and renamed over the old one', async () => {
    // Prepare
    const [first, second] = fresh(2);
    await writeFile(first!.path, 'old content\n');
    const calls = recordingCalls();
    // Act
    const outcomes = await writeFilesAtomic([first!, second!], calls);
    // Assess
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(await readFile(first!.path, 'utf8')).toBe(first!.data);
    expect(calls.renamed).toHaveLength(1);
    expect(calls.renamed[0]).toMatch(/\/\.svc-0\.vault\.\d+-[0-9a-f]{12}\.tmp -> .*\/svc-0\.vault$/);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a fresh file whose write fails is removed (it was never there) and the other files of the batch are written', async () => {
    // Prepare
    const files = fresh(3);
    const calls = recordingCalls(files[1]!.data);
    // Act
    const outcomes = await writeFilesAtomic(files, calls);
    // Assess
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ENOSPC' });
    expect((await readdir(dir)).sort()).toEqual(['svc-0.vault', 'svc-2.vault']);
  });
});
