import { EventType, makeEvent, type RekeyEvent } from '../domain/events/types.js';
import { UnmanagedObjectError } from '../domain/errors.js';
import type { Inventory } from '../domain/inventory/model.js';
import { decideSync, desiredSecret, publicKeySet, SyncReason } from '../domain/sync/desired.js';
import type { Material } from '../domain/store/material.js';
import type { Unit } from '../domain/units.js';
import type { DesiredSecret, ObservedSecret } from '../ports/cluster.js';
import { FileChange, type FileDrift } from '../ports/host-files.js';
import { mapLimit } from './concurrency.js';
import type { Deps } from './deps.js';
import type { MaterialReader } from './materials.js';
import { trustOverride } from './rotation/trust.js';
import { publishedKeySet } from './rotation/key-set.js';
import { defined } from '../domain/defined.js';

export const SyncChange = {
  Created: 'created',
  Updated: 'updated',
  Unchanged: 'unchanged',
  Unmanaged: 'unmanaged',
  Unreachable: 'unreachable',
  NotIssued: 'not-issued',
} as const;
export type SyncChange = (typeof SyncChange)[keyof typeof SyncChange];

export interface SyncOutcome {
  readonly cluster: string;
  readonly namespace: string;
  readonly secret: string;
  readonly unit: string;
  readonly item: string;
  readonly change: SyncChange;
  readonly reason?: string;
  readonly versionId?: string;
}

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

interface Target {
  readonly unit: Unit;
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  /** A signing key's second Secret: only the public key set (`jwksSecret`). */
  readonly publicKeySet?: true;
}

const WRITE_CONCURRENCY = 64;

function targetsOf(units: readonly Unit[]): Target[] {
  return units.flatMap((unit) => {
    const placement = unit.item.secret;
    if (!placement || !unit.secretName) return [];
    const jwks = unit.item.kind === 'credential' ? unit.item.jwksSecret : undefined;
    return placement.clusters.flatMap((cluster): Target[] => [
      { unit, cluster, namespace: placement.namespace, name: defined(unit.secretName) },
      ...(jwks !== undefined ? [{ unit, cluster, namespace: placement.namespace, name: jwks, publicKeySet: true as const }] : []),
    ]);
  });
}

/**
 * Brings the Secrets (and host files) of `units` to their current versions. Lists each namespace once per
 * cluster, writes only what differs, and reports every target. With `dryRun` it only reports.
 */
export async function syncUnits(
  deps: Deps,
  inventory: Inventory,
  units: readonly Unit[],
  reader: MaterialReader,
  options: { rotationId?: string; dryRun?: boolean } = {},
): Promise<SyncReport> {
  const targets = targetsOf(units);
  const observed = new Map<string, Promise<Map<string, ObservedSecret> | undefined>>();
  const observedIn = (cluster: string, namespace: string) => {
    const key = `${cluster}/${namespace}`;
    let hit = observed.get(key);
    if (!hit) {
      const sink = deps.clusters.get(cluster)?.secrets;
      hit = sink ? sink.listSecrets(namespace).then((list) => new Map(list.map((s) => [s.name, s]))) : Promise.resolve(undefined);
      observed.set(key, hit);
    }
    return hit;
  };

  const trusts = new Map<string, Promise<string | undefined>>();
  const trustOf = (unit: Unit) => {
    let hit = trusts.get(unit.key);
    if (!hit) {
      hit = trustOverride(reader, inventory, unit);
      trusts.set(unit.key, hit);
    }
    return hit;
  };

  const events: RekeyEvent[] = [];
  const secrets = await mapLimit(targets, WRITE_CONCURRENCY, async (t): Promise<SyncOutcome> => {
    const base = { cluster: t.cluster, namespace: t.namespace, secret: t.name, unit: t.unit.key, item: t.unit.item.name };
    const existing = await observedIn(t.cluster, t.namespace);
    if (!existing) return { ...base, change: SyncChange.Unreachable, reason: `cluster "${t.cluster}" is not connected` };
    const current = await reader.current(t.unit.storeName);
    if (!current) return { ...base, change: SyncChange.NotIssued };
    const trust = await trustOf(t.unit);
    const keySet = await publishedKeySet(reader, t.unit);
    const desired: DesiredSecret = desiredSecret({
      inventory: inventory.name,
      item: t.unit.item,
      unitKey: t.unit.key,
      name: t.name,
      namespace: t.namespace,
      versionId: current.versionId,
      material: current.material,
      ...(trust !== undefined && { trust }),
      ...(keySet !== undefined && { keySet }),
      ...(t.publicKeySet && { publicKeySet: true }),
    });
    const seen = existing.get(t.name);
    const adopt = t.unit.item.adopt || fillsEmptySecret(t.unit, seen);
    const decision = decideSync(desired, seen, adopt);
    if (!decision.write) {
      return decision.reason === SyncReason.SecretUnmanaged
        ? { ...base, change: SyncChange.Unmanaged, reason: `Secret exists and is not managed by rekey (set adopt: true to take it over)` }
        : { ...base, change: SyncChange.Unchanged, versionId: current.versionId };
    }
    const change = seen ? SyncChange.Updated : SyncChange.Created;
    if (options.dryRun) return { ...base, change, reason: decision.reason, versionId: current.versionId };
    try {
      await defined(deps.clusters.get(t.cluster)).secrets.writeSecret(desired, { adopt, ...(seen && { expected: seen }) });
    } catch (e) {
      if (e instanceof UnmanagedObjectError) return { ...base, change: SyncChange.Unmanaged, reason: e.message };
      throw e;
    }
    const detail = { inventory: inventory.name, item: t.unit.key, ...(options.rotationId && { rotationId: options.rotationId }) };
    const fields = {
      cluster: t.cluster,
      namespace: t.namespace,
      secret: t.name,
      versionId: current.versionId,
      change,
      reason: decision.reason,
    };
    events.push(makeEvent(EventType.SecretSynced, detail, fields));
    if (decision.reason === SyncReason.SecretDrifted)
      events.push(makeEvent(EventType.DriftDetected, detail, { ...fields, repaired: true }));
    return { ...base, change, reason: decision.reason, versionId: current.versionId };
  });

  // Events first: a failing reload must not lose what was written into the clusters.
  await deps.events.publish(events);
  const { files, reloads } = await syncFiles(deps, inventory, units, reader, Boolean(options.dryRun), trustOf);
  return { secrets, files, reloads };
}

/**
 * Seed 003: a signing key's (or token's) Secret that someone created empty, for rekey to fill, is filled even
 * without rekey's label or `adopt: true`. A Secret with any data stays someone else's.
 */
function fillsEmptySecret(unit: Unit, seen: ObservedSecret | undefined): boolean {
  const jwt = unit.item.kind === 'credential' && (unit.item.type === 'jwt-signing-key' || unit.item.type === 'jwt-token');
  return jwt && seen !== undefined && Object.values(seen.data).every((v) => v === '');
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
