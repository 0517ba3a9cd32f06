import { IntegrityError } from '../../domain/errors.js';
import type { OwedReload, ReloadLedger } from '../../ports/host-files.js';
import { writeFileAtomic } from './atomic-file.js';
import { readTextOrUndefined } from './missing-ok.js';

interface LedgerFile {
  readonly v: 1;
  readonly reloads: readonly OwedReload[];
}

/**
 * Owed reloads in one small JSON file under the state folder (`<state>/reloads.json`, mode 0600), rewritten
 * atomically. It is a file of its own rather than a journal record because a reload belongs to a host and a
 * command, not to one rotation: `apply` owes reloads outside any rotation, one reload serves several items, and it
 * must outlive the rotation that wrote the files. Writers hold the state lock, so read-modify-write is safe.
 */
export class JsonReloadLedger implements ReloadLedger {
  constructor(private readonly path: string) {}

  private async read(): Promise<OwedReload[]> {
    const text = await readTextOrUndefined(this.path);
    if (text === undefined) return [];
    try {
      const parsed = JSON.parse(text) as Partial<LedgerFile> | null;
      if (parsed?.v !== 1 || !Array.isArray(parsed.reloads)) throw new Error('unknown format');
      return [...(parsed.reloads as readonly OwedReload[])];
    } catch (e) {
      throw new IntegrityError(`${this.path} is not a reload ledger (${(e as Error).message}); remove it to forget owed reloads`, {
        context: { path: this.path },
      });
    }
  }

  private async save(reloads: readonly OwedReload[]): Promise<void> {
    const file: LedgerFile = { v: 1, reloads };
    await writeFileAtomic(this.path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  }

  private async change(update: (reloads: OwedReload[]) => OwedReload[] | undefined): Promise<void> {
    const next = update(await this.read());
    if (next) await this.save(next);
  }

  async owed(inventory: string): Promise<OwedReload[]> {
    return (await this.read()).filter((r) => r.inventory === inventory);
  }

  owe(inventory: string, command: string, units: readonly string[], at: Date): Promise<void> {
    return this.change((all) => {
      const i = all.findIndex((r) => r.inventory === inventory && r.command === command);
      const existing = all[i];
      if (!existing) return [...all, { inventory, command, units: [...new Set(units)].sort(), since: at.toISOString(), attempts: 0 }];
      const merged = [...new Set([...existing.units, ...units])].sort();
      if (merged.length === existing.units.length) return undefined; // nothing new: spare the write
      all[i] = { ...existing, units: merged };
      return all;
    });
  }

  settle(inventory: string, command: string): Promise<void> {
    return this.change((all) => {
      const rest = all.filter((r) => !(r.inventory === inventory && r.command === command));
      return rest.length === all.length ? undefined : rest;
    });
  }

  failed(inventory: string, command: string, error: string): Promise<void> {
    return this.change((all) =>
      all.map((r) => (r.inventory === inventory && r.command === command ? { ...r, attempts: r.attempts + 1, lastError: error } : r)),
    );
  }
}
