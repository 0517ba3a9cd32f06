import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonJournal } from '../../../../shared/adapters/local/json-journal.js';
import { ConflictError, RotationLockedError } from '../../../../shared/domain/errors.js';
import { RotationStatus, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { leafRecord } from '../../../fixtures/rotation-record.js';

let root: string;
let journal: JsonJournal;

beforeEach(async () => {
  root = await makeTempDir('rekey-journal-');
  journal = new JsonJournal(join(root, 'journal'));
});
afterEach(() => removeTempDir(root));

const record = (id: string, overrides: Partial<RotationRecord> = {}): RotationRecord => leafRecord({ id, ...overrides });

describe('JsonJournal', () => {
  it('creates, reads back, and refuses a second record with the same id', async () => {
    // Prepare
    const r = record('rot-1');
    // Act
    await journal.create(r);
    const again = await journal.create(record('rot-1', { reason: 'other' })).catch((e: unknown) => e);
    // Assess
    expect(await journal.get('rot-1')).toEqual(r);
    expect(again).toBeInstanceOf(ConflictError);
    expect((await journal.get('rot-1'))!.reason).toBe('test');
    expect(await journal.get('missing')).toBeUndefined();
    const files = (await readdir(join(root, 'journal'))).filter((f) => f.endsWith('.json'));
    expect(files).toEqual(['rot-1.json']);
    expect((await stat(join(root, 'journal', files[0]!))).mode & 0o777).toBe(0o600);
  });

  it('updates only from the revision it read; a stale or skipped revision is a ConflictError', async () => {
    // Prepare
    await journal.create(record('rot-1'));
    // Act
    await journal.update(record('rot-1', { revision: 2, step: 'test' }));
    const stale = await journal.update(record('rot-1', { revision: 2, step: 'promote' })).catch((e: unknown) => e);
    const skipped = await journal.update(record('rot-1', { revision: 4, step: 'promote' })).catch((e: unknown) => e);
    const missing = await journal.update(record('rot-9', { revision: 2 })).catch((e: unknown) => e);
    // Assess
    expect(stale).toBeInstanceOf(ConflictError);
    expect((stale as ConflictError).retryable).toBe(true);
    expect(skipped).toBeInstanceOf(ConflictError);
    expect(missing).toBeInstanceOf(ConflictError);
    expect(await journal.get('rot-1')).toMatchObject({ revision: 2, step: 'test' });
  });

  it('refuses a start while the item lock file is still empty (another create between its open and its write)', async () => {
    // Prepare: the lock as a create leaves it right after its O_EXCL open
    const lock = join(root, 'journal', 'locks', `${encodeURIComponent('shop/web')}.lock`);
    await mkdir(dirname(lock), { recursive: true });
    await writeFile(lock, '');
    // Act
    const refused = await journal.create(record('rot-2')).catch((e: unknown) => e);
    // Assess: the lock is left to its writer
    expect(refused).toBeInstanceOf(RotationLockedError);
    expect(await readFile(lock, 'utf8')).toBe('');
  });

  it('takes over an empty item lock once it is old (a create killed between its open and its write)', async () => {
    // Prepare
    const lock = join(root, 'journal', 'locks', `${encodeURIComponent('shop/web')}.lock`);
    await mkdir(dirname(lock), { recursive: true });
    await writeFile(lock, '');
    const old = new Date(Date.now() - 120_000);
    await utimes(lock, old, old);
    // Act
    await journal.create(record('rot-3'));
    // Assess
    expect(await readFile(lock, 'utf8')).toBe('rot-3');
  });

  it('of two creates of one item at once, exactly one takes the lock', async () => {
    // Act: many rounds, since the window between open and write is short
    for (let round = 0; round < 50; round++) {
      const item = `web-${round}`;
      const results = await Promise.allSettled([
        journal.create(record(`a-${round}`, { item })),
        journal.create(record(`b-${round}`, { item })),
      ]);
      // Assess
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RotationLockedError);
    }
  });

  it('lists by item (oldest first) and by status', async () => {
    // Prepare
    await journal.create(record('b', { startedAt: '2030-01-02T00:00:00.000Z' }));
    await journal.create(record('a', { startedAt: '2030-01-01T00:00:00.000Z', status: RotationStatus.Completed }));
    await journal.create(record('c', { item: 'db', status: RotationStatus.Failed }));
    await journal.create(record('d', { inventory: 'other' }));
    // Act
    const web = await journal.listByItem('shop', 'web');
    const running = await journal.listByStatus(RotationStatus.Running);
    // Assess
    expect(web.map((r) => r.id)).toEqual(['a', 'b']);
    expect(running.map((r) => r.id).sort()).toEqual(['b', 'd']);
    expect((await journal.listByStatus(RotationStatus.Failed)).map((r) => r.id)).toEqual(['c']);
    expect(await journal.listByItem('shop', 'nothing')).toEqual([]);
    expect(await new JsonJournal(join(root, 'none')).listByStatus(RotationStatus.Running)).toEqual([]);
  });

  it('ids with slashes and odd characters stay one file each', async () => {
    // Act
    await journal.create(record('x/../y'));
    // Assess
    expect((await readdir(join(root, 'journal'))).filter((f) => f.endsWith('.json'))).toEqual([`${encodeURIComponent('x/../y')}.json`]);
    expect((await journal.get('x/../y'))!.id).toBe('x/../y');
  });
});
