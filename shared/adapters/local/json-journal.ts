import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConflictError, RotationLockedError } from '../../domain/errors.js';
import { isFinished, leaseExpired, type RotationRecord, type RotationStatus } from '../../domain/rotation/record.js';
import { LeaseHeldError, type Journal, type LeaseClaim } from '../../ports/journal.js';
import { writeFileAtomic } from './atomic-file.js';
import { readdirOrEmpty, readTextOrUndefined } from './missing-ok.js';

/** A lock file whose rotation record never got written is taken over after this long. */
const STALE_ORPHAN_LOCK_MS = 60_000;

/** Milliseconds since the file was last written; undefined if it is gone. */
async function ageOf(path: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The embedded journal: one JSON file per rotation under `<state>/journal`. Single-process. */
export class JsonJournal implements Journal {
  private readonly updates = new Map<string, Promise<unknown>>();

  constructor(private readonly dir: string) {}

  private fileOf(id: string): string {
    return join(this.dir, `${encodeURIComponent(id)}.json`);
  }

  private lockOf(record: Pick<RotationRecord, 'inventory' | 'item'>): string {
    return join(this.dir, 'locks', `${encodeURIComponent(`${record.inventory}/${record.item}`)}.lock`);
  }

  async create(record: RotationRecord): Promise<void> {
    if (await this.get(record.id)) throw new ConflictError(`rotation ${record.id} already exists`, { rotationId: record.id });
    if (!isFinished(record)) await this.takeItemLock(record);
    await writeFileAtomic(this.fileOf(record.id), JSON.stringify(record, null, 2), { mode: 0o600 });
  }

  /** O_EXCL on a lock file per item: atomic across processes. A lock whose rotation has finished is stale. */
  private async takeItemLock(record: RotationRecord): Promise<void> {
    const path = this.lockOf(record);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await writeFile(path, record.id, { flag: 'wx', mode: 0o600 });
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = (await readTextOrUndefined(path))?.trim();
      if (holder === undefined) continue; // released meanwhile: take it
      const held = holder ? await this.get(holder) : undefined;
      if (holder !== record.id && (!held || !isFinished(held))) {
        // A lock without its record is a create that died between the two writes, and an empty one a create between
        // its O_EXCL open and its write (in progress, or died there): either is stale only once old.
        const modified = await stat(path).then(
          (st) => st.mtimeMs,
          () => undefined,
        );
        if (modified === undefined) continue;
        if (held || Date.now() - modified < STALE_ORPHAN_LOCK_MS)
          throw new RotationLockedError(record.item, holder || 'being created', record.id);
      }
      await rm(path, { force: true });
    }
    throw new ConflictError(`the lock of item ${record.item} kept changing; try again`, { rotationId: record.id });
  }

  async get(rotationId: string): Promise<RotationRecord | undefined> {
    const text = await readTextOrUndefined(this.fileOf(rotationId));
    return text === undefined ? undefined : (JSON.parse(text) as RotationRecord);
  }

  /** Check-then-write per record, one at a time in this process, so two updates cannot both pass the check. */
  update(record: RotationRecord): Promise<void> {
    return this.serially(record.id, () => this.updateNow(record));
  }

  private serially<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.updates.get(id) ?? Promise.resolve();
    const run = prev.then(fn);
    this.updates.set(
      id,
      run.catch(() => undefined),
    );
    return run;
  }

  claimLease(rotationId: string, claim: LeaseClaim): Promise<RotationRecord | undefined> {
    return this.serially(rotationId, async () => {
      const current = await this.get(rotationId);
      if (!current || isFinished(current)) return current;
      const held = current.lease;
      const free = !held || held.owner === claim.owner || claim.force || leaseExpired(held, new Date(claim.now));
      if (!free) throw new LeaseHeldError(rotationId, held);
      const lease = { owner: claim.owner, expiresAt: claim.expiresAt };
      const claimed: RotationRecord = { ...current, lease, revision: current.revision + 1 };
      await writeFileAtomic(this.fileOf(rotationId), JSON.stringify(claimed, null, 2), { mode: 0o600 });
      return claimed;
    });
  }

  async sweepLocks(options: { readonly orphanAfterMs: number }): Promise<string[]> {
    const locks = join(this.dir, 'locks');
    const freed: string[] = [];
    for (const name of await readdirOrEmpty(locks)) {
      const path = join(locks, name);
      const age = await ageOf(path);
      if (age === undefined) continue;
      // Temporary files of an atomic write that was killed before its rename: never read, only litter.
      if (name.endsWith('.tmp')) {
        if (age >= options.orphanAfterMs) await rm(path, { force: true });
        continue;
      }
      const holder = (await readTextOrUndefined(path))?.trim();
      const held = holder ? await this.get(holder) : undefined;
      if (held ? isFinished(held) : age >= options.orphanAfterMs) {
        await rm(path, { force: true });
        freed.push(decodeURIComponent(name.slice(0, -'.lock'.length)));
      }
    }
    for (const name of (await readdirOrEmpty(this.dir)).filter((n) => n.endsWith('.tmp'))) {
      if (((await ageOf(join(this.dir, name))) ?? 0) >= options.orphanAfterMs) await rm(join(this.dir, name), { force: true });
    }
    return freed;
  }

  private async updateNow(record: RotationRecord): Promise<void> {
    const current = await this.get(record.id);
    if (!current || current.revision !== record.revision - 1) {
      throw new ConflictError(
        `rotation ${record.id} changed since it was read (revision ${current?.revision ?? 'none'}, expected ${record.revision - 1})`,
        { rotationId: record.id },
      );
    }
    await writeFileAtomic(this.fileOf(record.id), JSON.stringify(record, null, 2), { mode: 0o600 });
    if (isFinished(record) && (await readTextOrUndefined(this.lockOf(record)))?.trim() === record.id)
      await rm(this.lockOf(record), { force: true });
  }

  private async all(): Promise<RotationRecord[]> {
    const files = await readdirOrEmpty(this.dir);
    const records = await Promise.all(
      files.filter((f) => f.endsWith('.json')).map(async (f) => JSON.parse(await readFile(join(this.dir, f), 'utf8')) as RotationRecord),
    );
    return records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async listByItem(inventory: string, item: string): Promise<RotationRecord[]> {
    return (await this.all()).filter((r) => r.inventory === inventory && r.item === item);
  }

  async listByStatus(status: RotationStatus): Promise<RotationRecord[]> {
    return (await this.all()).filter((r) => r.status === status);
  }
}
