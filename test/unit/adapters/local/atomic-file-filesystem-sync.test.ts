import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/** What the group commit asked of syncfs, and whether any target name existed yet when it asked. */
const syncs = vi.hoisted(() => ({
  calls: [] as { dirs: string[]; targetsPresent: number }[],
  answer: undefined as boolean | undefined,
  targets: [] as string[],
}));
vi.mock('../../../../shared/adapters/local/filesystem-sync.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../../shared/adapters/local/filesystem-sync.js')>();
  return {
    syncFilesystems: async (dirs: readonly string[]) => {
      syncs.calls.push({ dirs: [...dirs], targetsPresent: syncs.targets.filter((t) => existsSync(t)).length });
      return syncs.answer ?? real.syncFilesystems(dirs);
    },
  };
});
const { FILESYSTEM_SYNC_MIN_FILES, writeFilesAtomic } = await import('../../../../shared/adapters/local/atomic-file.js');

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-syncfs-');
  syncs.calls = [];
  syncs.answer = undefined;
});
afterEach(() => removeTempDir(dir));

const batch = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ path: join(dir, 'vault', `svc-${i}.vault`), data: `entry ${i}\n`, mode: 0o600 }));

describe('writeFilesAtomic: one filesystem sync for a large batch', () => {
  it('a batch of FILESYSTEM_SYNC_MIN_FILES files is synced once, before any of its renames; every file then holds its data, mode 0600, no temporary left', async () => {
    // Prepare
    const files = batch(FILESYSTEM_SYNC_MIN_FILES);
    syncs.targets = files.map((f) => f.path);
    // Act
    const outcomes = await writeFilesAtomic(files);
    // Assess
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(syncs.calls).toEqual([{ dirs: [join(dir, 'vault')], targetsPresent: 0 }]);
    for (const f of files) {
      expect(await readFile(f.path, 'utf8')).toBe(f.data);
      expect((await stat(f.path)).mode & 0o777).toBe(0o600);
    }
    expect((await readdir(join(dir, 'vault'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a smaller batch fsyncs each file and never syncs the filesystem', async () => {
    // Act
    const outcomes = await writeFilesAtomic(batch(FILESYSTEM_SYNC_MIN_FILES - 1));
    // Assess
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(syncs.calls).toEqual([]);
  });

  it('when the filesystem sync fails, each file is fsynced instead and the batch still lands whole', async () => {
    // Prepare
    syncs.answer = false;
    const files = batch(FILESYSTEM_SYNC_MIN_FILES + 8);
    // Act
    const outcomes = await writeFilesAtomic(files);
    // Assess
    expect(syncs.calls).toHaveLength(1);
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    for (const f of files) expect(await readFile(f.path, 'utf8')).toBe(f.data);
  });

  it('a file that cannot be written fails alone; the others of the batch land', async () => {
    // Prepare: a folder where one file's name should be
    const files = batch(FILESYSTEM_SYNC_MIN_FILES + 1);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(files[3]!.path, { recursive: true });
    // Act
    const outcomes = await writeFilesAtomic(files);
    // Assess
    expect(outcomes[3]?.status).toBe('rejected');
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(files.length - 1);
    expect(await readFile(files[4]!.path, 'utf8')).toBe(files[4]!.data);
  });
});

describe('syncFilesystems (the long-lived sync shell)', () => {
  it('answers true for folders that exist and false for one that does not, in order, many at once', async () => {
    // Prepare
    const real = await vi.importActual<typeof import('../../../../shared/adapters/local/filesystem-sync.js')>(
      '../../../../shared/adapters/local/filesystem-sync.js',
    );
    // Act
    const answers = await Promise.all([
      real.syncFilesystems([dir]),
      real.syncFilesystems([join(dir, 'missing')]),
      real.syncFilesystems([dir, dir]),
      real.syncFilesystems([`${dir}\nx`]),
    ]);
    // Assess
    expect(answers).toEqual([true, false, true, false]);
  });

  it('does not keep a process alive once its syncs are answered', () => {
    // Act: a process that syncs once and then has nothing left to do
    const module = join(process.cwd(), 'shared/adapters/local/filesystem-sync.ts');
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const m = await import(${JSON.stringify(module)}); console.log(await m.syncFilesystems([${JSON.stringify(dir)}]));`,
      ],
      { encoding: 'utf8', timeout: 30_000, input: '' },
    );
    // Assess: it printed its answer and exited by itself (spawnSync's timeout would have killed it: signal set)
    expect(run.signal).toBeNull();
    expect(run.stdout.trim()).toBe('true');
    expect(run.status).toBe(0);
  });
});
