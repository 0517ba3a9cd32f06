import type { Inventory } from '../domain/inventory/model.js';
import { publicKeySet } from '../domain/sync/desired.js';
import type { Material } from '../domain/store/material.js';
import type { Unit } from '../domain/units.js';
import { FileChange, type FileDrift } from '../ports/host-files.js';
import type { Deps } from './deps.js';
import type { MaterialReader } from './materials.js';
import { trustOverride } from './rotation/trust.js';
import { SecretSync, type SyncOutcome } from './secret-sync.js';
import { defined } from '../domain/defined.js';

export { SyncChange, type SyncOutcome } from './secret-sync.js';

export interface FileOutcome {
  readonly unit: string;
  readonly dir: string;
  /** Files whose content was (dry run: would be) written. */
  readonly written: readonly string[];
  /** Files whose mode was (would be) set back to the placement's mode, content unchanged. */
  readonly chmodded: readonly string[];
  /** Its reload ran and succeeded in this sync. */
  readonly reloaded: boolean;
}

export const ReloadReason = {
  /** Files it serves changed in this sync. */
  FilesChanged: 'FilesChanged',
  /** An earlier reload failed, timed out or never ran (killed process): still owed. */
  ReloadOwed: 'ReloadOwed',
} as const;
export type ReloadReason = (typeof ReloadReason)[keyof typeof ReloadReason];

export const ReloadResult = { Succeeded: 'succeeded', Failed: 'failed', Owed: 'owed' } as const;
export type ReloadResult = (typeof ReloadResult)[keyof typeof ReloadResult];

export interface ReloadOutcome {
  readonly command: string;
  readonly units: readonly string[];
  readonly reason: ReloadReason;
  /** `owed` in a dry run (it would run), otherwise how the run went. */
  readonly result: ReloadResult;
  readonly error?: string;
  /** An owed reload from earlier runs: when it became owed, failed runs so far. */
  readonly since?: string;
  readonly attempts?: number;
}

export interface SyncReport {
  readonly secrets: readonly SyncOutcome[];
  readonly files: readonly FileOutcome[];
  readonly reloads: readonly ReloadOutcome[];
}

/** How long a reload may run when its placement does not say (`files.reloadTimeout`). */
export const DEFAULT_RELOAD_TIMEOUT_MS = 60_000;

/**
 * Brings the Secrets (and host files) of `units` to their current versions. Lists each namespace once per
 * cluster, writes only what differs, and reports every target. With `dryRun` it only reports.
 */
export function syncUnits(
  deps: Deps,
  inventory: Inventory,
  units: readonly Unit[],
  reader: MaterialReader,
  options: { rotationId?: string; dryRun?: boolean } = {},
): Promise<SyncReport> {
  return new SyncPipeline(deps, inventory, units, reader, options).finish();
}

/**
 * `syncUnits` fed unit by unit: a unit's Secrets are written as soon as it is `add`ed (its current version final for
 * this run and durable), while the caller goes on with other units; `finish` writes the rest, then the host files and
 * their reloads, which wait for every unit (a reload serves several). `abandon` when the caller fails: the writes
 * under way end and their events are published, nothing more is written.
 */
export class SyncPipeline {
  private readonly trusts = new Map<string, Promise<string | undefined>>();
  private readonly secrets: SecretSync;

  constructor(
    private readonly deps: Deps,
    private readonly inventory: Inventory,
    private readonly units: readonly Unit[],
    private readonly reader: MaterialReader,
    private readonly options: { rotationId?: string; dryRun?: boolean; releaseSynced?: boolean } = {},
  ) {
    this.secrets = new SecretSync(deps, inventory, units, reader, { ...options, trustOf: (unit) => this.trustOf(unit) });
  }

  add(unit: Unit): void {
    this.secrets.add(unit);
  }

  async finish(): Promise<SyncReport> {
    const secrets = await this.secrets.finish();
    const { files, reloads } = await syncFiles(this.deps, this.inventory, this.units, this.reader, Boolean(this.options.dryRun), (unit) =>
      this.trustOf(unit),
    );
    return { secrets, files, reloads };
  }

  abandon(): Promise<void> {
    return this.secrets.abandon();
  }

  private trustOf(unit: Unit): Promise<string | undefined> {
    let hit = this.trusts.get(unit.key);
    if (!hit) {
      hit = trustOverride(this.reader, this.inventory, unit);
      this.trusts.set(unit.key, hit);
    }
    return hit;
  }
}

function hostFilesOf(unit: Unit, m: Material, trust: string | undefined): Record<string, string> {
  const placement = defined(unit.item.files);
  const files: Record<string, string> = {};
  switch (m.type) {
    case 'certificate':
      // An authority's file is a trust bundle servers read: during its rotation's overlap it holds old + new, like
      // every ca.crt (a server reading it alone would otherwise reject clients re-issued under the new CA).
      files[placement.cert] = unit.item.kind === 'authority' ? (trust ?? m.cert + m.chain) : m.cert + m.chain;
      if (placement.key && unit.item.kind !== 'authority') files[placement.key] = m.key;
      if (placement.ca) files[placement.ca] = trust ?? m.ca;
      break;
    case 'password':
      files[placement.cert] = m.password;
      break;
    case 'token':
      files[placement.cert] = m.token;
      break;
    case 'signing-key':
      files[placement.cert] = publicKeySet(m.keySet);
      if (placement.key) files[placement.key] = JSON.stringify(m.jwk);
      break;
    default: {
      const never: never = m;
      throw new Error(`unknown material ${JSON.stringify(never)}`);
    }
  }
  return files;
}

/**
 * Host files: brings every file to its current version and the placement's mode (content first, then modes),
 * then runs each reload command once, after every file it serves is in place: a CA bundle and a server
 * certificate that change together reload Apache once, with both. A reload is recorded as owed before the files
 * change and settled only when it exits 0, so one that fails, hangs (killed at its timeout) or is interrupted by a
 * crash runs again on the next sync that covers it. Reload failures are reported, not thrown: the caller decides
 * (apply reports a problem and exits 1, a rotation's sync step fails).
 */
async function syncFiles(
  deps: Deps,
  inventory: Inventory,
  units: readonly Unit[],
  reader: MaterialReader,
  dryRun: boolean,
  trustOf: (unit: Unit) => Promise<string | undefined>,
): Promise<Pick<SyncReport, 'files' | 'reloads'>> {
  const hostFiles = deps.hostFiles;
  if (!hostFiles) return { files: [], reloads: [] };
  const planned: { unit: Unit; files: Record<string, string>; drift: FileDrift[] }[] = [];
  for (const unit of units) {
    if (!unit.item.files) continue;
    const current = await reader.current(unit.storeName);
    if (!current) continue;
    const files = hostFilesOf(unit, current.material, await trustOf(unit));
    planned.push({ unit, files, drift: await hostFiles.check(unit.item.files, files) });
  }

  // Which reloads this sync covers: those whose files change now, and those still owed by earlier runs.
  const commands = new Map<string, { units: Set<string>; timeoutMs: number; changed: boolean }>();
  for (const p of planned) {
    const { reload, reloadTimeoutMs } = defined(p.unit.item.files);
    if (!reload) continue;
    const entry = commands.get(reload) ?? { units: new Set<string>(), timeoutMs: 0, changed: false };
    entry.timeoutMs = Math.max(entry.timeoutMs, reloadTimeoutMs ?? DEFAULT_RELOAD_TIMEOUT_MS);
    if (p.drift.some((d) => d.change === FileChange.Content)) {
      entry.units.add(p.unit.key);
      entry.changed = true;
    }
    commands.set(reload, entry);
  }
  const owed = new Map((await hostFiles.ledger.owed(inventory.name)).map((o) => [o.command, o]));
  const due = [...commands].filter(([command, c]) => c.changed || owed.has(command));
  const outcomeOf = (command: string, c: { units: Set<string>; changed: boolean }) => {
    const earlier = owed.get(command);
    return {
      command,
      units: [...new Set([...(earlier?.units ?? []), ...c.units])].sort(),
      reason: earlier ? ReloadReason.ReloadOwed : ReloadReason.FilesChanged,
      ...(earlier && { since: earlier.since, attempts: earlier.attempts }),
    };
  };

  const fileOutcome = (p: (typeof planned)[number], reloaded: boolean): FileOutcome => ({
    unit: p.unit.key,
    dir: defined(p.unit.item.files).dir,
    written: p.drift.filter((d) => d.change === FileChange.Content).map((d) => d.name),
    chmodded: p.drift.filter((d) => d.change === FileChange.Mode).map((d) => d.name),
    reloaded,
  });
  if (dryRun) {
    return {
      files: planned.map((p) => fileOutcome(p, false)),
      reloads: due.map(([command, c]) => ({
        ...outcomeOf(command, c),
        result: ReloadResult.Owed,
        ...(owed.get(command)?.lastError && { error: defined(defined(owed.get(command)).lastError) }),
      })),
    };
  }

  const now = deps.clock.now();
  for (const [command, c] of due) if (c.changed) await hostFiles.ledger.owe(inventory.name, command, [...c.units], now);
  for (const p of planned) if (p.drift.length) await hostFiles.write(defined(p.unit.item.files), p.files);

  const reloads: ReloadOutcome[] = [];
  for (const [command, c] of due) {
    const base = outcomeOf(command, c);
    try {
      await hostFiles.reload(command, { timeoutMs: c.timeoutMs, ...(deps.signal && { signal: deps.signal }) });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      await hostFiles.ledger.failed(inventory.name, command, error);
      deps.log.debug('reload failed; it stays owed', { command, error });
      reloads.push({ ...base, result: ReloadResult.Failed, error });
      continue;
    }
    await hostFiles.ledger.settle(inventory.name, command);
    reloads.push({ ...base, result: ReloadResult.Succeeded });
  }
  const succeeded = new Set(reloads.filter((r) => r.result === ReloadResult.Succeeded).map((r) => r.command));
  const reloadedUnit = (p: (typeof planned)[number]) => {
    const command = defined(p.unit.item.files).reload;
    return command !== undefined && succeeded.has(command);
  };
  return { files: planned.map((p) => fileOutcome(p, reloadedUnit(p))), reloads };
}
