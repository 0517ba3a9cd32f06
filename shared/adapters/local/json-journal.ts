import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError } from '../../domain/errors.js';
import type { RotationRecord, RotationStatus } from '../../domain/rotation/record.js';
import type { Journal } from '../../ports/journal.js';
import { writeFileAtomic } from './atomic-file.js';
import { readdirOrEmpty, readTextOrUndefined } from './missing-ok.js';

/** The embedded journal: one JSON file per rotation under `<state>/journal`. Single-process. */
export class JsonJournal implements Journal {
  constructor(private readonly dir: string) {}

  private fileOf(id: string): string {
    return join(this.dir, `${encodeURIComponent(id)}.json`);
  }

  async create(record: RotationRecord): Promise<void> {
    if (await this.get(record.id)) throw new ConflictError(`rotation ${record.id} already exists`, { rotationId: record.id });
    await writeFileAtomic(this.fileOf(record.id), JSON.stringify(record, null, 2), { mode: 0o600 });
  }

  async get(rotationId: string): Promise<RotationRecord | undefined> {
    const text = await readTextOrUndefined(this.fileOf(rotationId));
    return text === undefined ? undefined : (JSON.parse(text) as RotationRecord);
  }

  async update(record: RotationRecord): Promise<void> {
    const current = await this.get(record.id);
    if (!current || current.revision !== record.revision - 1) {
      throw new ConflictError(`rotation ${record.id} changed since it was read (revision ${current?.revision ?? 'none'}, expected ${record.revision - 1})`, { rotationId: record.id });
    }
    await writeFileAtomic(this.fileOf(record.id), JSON.stringify(record, null, 2), { mode: 0o600 });
  }

  private async all(): Promise<RotationRecord[]> {
    const files = await readdirOrEmpty(this.dir);
    const records = await Promise.all(files.filter((f) => f.endsWith('.json')).map(async (f) => JSON.parse(await readFile(join(this.dir, f), 'utf8')) as RotationRecord));
    return records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async listByItem(inventory: string, item: string): Promise<RotationRecord[]> {
    return (await this.all()).filter((r) => r.inventory === inventory && r.item === item);
  }

  async listByStatus(status: RotationStatus): Promise<RotationRecord[]> {
    return (await this.all()).filter((r) => r.status === status);
  }
}
