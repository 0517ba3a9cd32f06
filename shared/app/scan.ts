import { isRekeyError, RotationLockedError } from '../domain/errors.js';
import { EventType, makeEvent, type RekeyEvent } from '../domain/events/types.js';
import type { Inventory } from '../domain/inventory/model.js';
import { RotationKind, RotationStatus, Trigger } from '../domain/rotation/record.js';
import { isDue } from '../domain/plan/due.js';
import { SyncReason } from '../domain/sync/desired.js';
import { allUnits, type Unit } from '../domain/units.js';
import type { Deps } from './deps.js';
import { IssueAction, walkIssuance } from './issuance-walk.js';
import { carryOut } from './apply.js';
import { MaterialReader } from './materials.js';
import { recover, type RecoverOptions, type RecoveryEntry } from './recover.js';
import { rotationKindOf, startRotation } from './rotation/start.js';
import { isRunnable } from './rotation/machines.js';
import { isUnderAny } from '../domain/rotation/authority-scope.js';
import { isSigningKey, isToken, mintedFromAny, rotatingAuthorities, rotatingSigningKeys } from './rotation/rotating.js';
import { findUnlistedConsumers, unlistedConsumerEvents, type UnlistedConsumer } from './restart/index.js';
import { SyncChange, syncUnits } from './sync.js';
import { pickUpRequests, type RequestOutcome } from './requests.js';
import { checkExternalChains } from './issuers/chain-watch.js';
import { defined } from '../domain/defined.js';
import { inventoryDigest, renewalEntryOf } from './renewals.js';
import type { RenewalEntry } from '../ports/renewal-index.js';

/** How much a scan read: every unit (and every Secret, for drift), or only the units the renewal index says are due. */
export const ScanMode = { Full: 'full', Due: 'due' } as const;
export type ScanMode = (typeof ScanMode)[keyof typeof ScanMode];

/** How often a scan reads everything (drift, unlisted consumers, repair of the renewal index) when it has an index. */
export const DEFAULT_RECONCILE_EVERY_MS = 24 * 3600_000;

export interface ScanOptions {
  readonly repair?: boolean;
  readonly recover?: RecoverOptions;
  /** Read everything even when the renewal index could answer (the periodic reconcile does this by itself). */
  readonly full?: boolean;
  /** A full reconcile at least this often (default 24 h). */
  readonly reconcileEveryMs?: number;
  /** Units due within this much of now count as due (default 0: what isDue says now). */
  readonly lookaheadMs?: number;
}

export interface ScanResult {
  readonly started: readonly { readonly item: string; readonly rotationId: string; readonly reason: string }[];
  readonly issued: readonly string[];
  readonly expiring: readonly { readonly item: string; readonly notAfter: string }[];
  readonly drift: readonly {
    readonly item: string;
    readonly cluster: string;
    readonly namespace: string;
    readonly secret: string;
    readonly reason: string;
  }[];
  readonly skipped: readonly { readonly item: string; readonly reason: string }[];
  /** Workloads that use a managed Secret without being listed as its consumers. */
  readonly unlisted: readonly UnlistedConsumer[];
  /** What dead workers had left and this scan resumed or discarded first (with `recover`). */
  readonly recovered: readonly RecoveryEntry[];
  /** RotationRequest objects picked up in the clusters (started, or their status written back). */
  readonly requests: readonly RequestOutcome[];
  /** `due`: only the units the renewal index names were read (no drift check); `full`: everything. */
  readonly mode: ScanMode;
  /** Renewal index entries this scan wrote (repairs of missing or stale ones, the units of a new inventory). */
  readonly reindexed: number;
}

/**
 * The scheduled pass: starts rotations of items that are due (one per item, never beside a running one),
 * issues authorities that do not exist yet, emits ExpiringSoon for what is within its renewal window and
 * DriftDetected for cluster Secrets that differ from the store, and picks up RotationRequests (see requests.ts).
 * With `repair`, drifted Secrets are rewritten.
 *
 * With a renewal index (`deps.renewals`), a scan reads only the units whose entry is due, when the index was
 * reconciled for this very inventory less than `reconcileEveryMs` ago: with nothing due that is a handful of calls
 * whatever the inventory's size. Otherwise (and with `full`) it reads everything as above, then writes the entries
 * that are missing or stale and marks the index reconciled. The price: drift, unlisted consumers, and an index entry
 * lost to a failed write are seen by the next full reconcile, not by every scan.
 */
export async function scan(deps: Deps, inventory: Inventory, options: ScanOptions = {}): Promise<ScanResult> {
  const now = deps.clock.now();
  const index = deps.renewals;
  const digest = index ? inventoryDigest(inventory) : '';
  const lookahead = new Date(now.getTime() + (options.lookaheadMs ?? 0));
  // Store names of the units to read; undefined: all of them.
  let only: Set<string> | undefined;
  let indexed: readonly RenewalEntry[] = [];
  if (index && !options.full) {
    const mark = await index.reconcileMark(inventory.name);
    const every = options.reconcileEveryMs ?? DEFAULT_RECONCILE_EVERY_MS;
    if (mark?.digest === digest && now.getTime() - Date.parse(mark.reconciledAt) < every) {
      indexed = await index.dueRenewals(inventory.name, lookahead);
      only = new Set(indexed.map((e) => e.unit));
    }
  }
  const mode = only ? ScanMode.Due : ScanMode.Full;
  // Orphaned pending versions: of the due units only, when only those are read (the full reconcile checks all).
  const recovered = options.recover
    ? (await recover(deps, inventory, { ...options.recover, ...(only && { orphansOf: only }) })).entries
    : [];
  const reader = new MaterialReader(deps.store, inventory);
  const units = only ? allUnits(inventory).filter((u) => only.has(u.storeName)) : allUnits(inventory);
  const started: { item: string; rotationId: string; reason: string }[] = [];
  const issued: string[] = [];
  const skipped: { item: string; reason: string }[] = [];
  const events: RekeyEvent[] = [];
  const dueItems = new Map<string, string>();
  // Authorities rotating (or about to): what they sign moves with their rotation, never on its own.
  const nothingToRead = units.length === 0;
  const rotating = nothingToRead ? new Set<string>() : await rotatingAuthorities(deps, inventory);
  const keysRotating = nothingToRead ? new Set<string>() : await rotatingSigningKeys(deps, inventory);

  const walk = async (d: Parameters<Parameters<typeof walkIssuance>[3]>[0]): Promise<void> => {
    const item = d.unit.item;
    if (isUnderAny(inventory, item, rotating)) {
      skipped.push({ item: d.unit.key, reason: `${d.reason}: moves with the rotation of the authority above it` });
      return;
    }
    if (mintedFromAny(item, keysRotating)) {
      skipped.push({ item: d.unit.key, reason: `${d.reason}: minted again by the rotation of its signing key` });
      return;
    }
    if (d.action === IssueAction.Issue && (isSigningKey(item) || (isToken(item) && rotationKindOf(item) === RotationKind.Leaf))) {
      // A first signing key (seed 003: generated when missing) or token needs no rotation: make it now. Keys come
      // before tokens in this walk, so a token is signed by its key's first version. A token with an owner to pause
      // is minted by its machine, as apply does, so that owner is paused around it.
      await carryOut(deps, inventory, reader, d);
      issued.push(d.unit.key);
      return;
    }
    if (isSigningKey(item) && d.action !== IssueAction.Issue && d.action !== IssueAction.Adopt) keysRotating.add(item.name);
    if (d.action === IssueAction.Skip) {
      skipped.push({ item: d.unit.key, reason: d.reason });
      return;
    }
    if (d.action === IssueAction.Adopt) {
      await carryOut(deps, inventory, reader, d);
      issued.push(d.unit.key);
      return;
    }
    if (item.kind === 'authority') {
      if (d.action === IssueAction.Issue) {
        // A first version needs no trust overlap: issue and promote it now, so leaves can be signed.
        await carryOut(deps, inventory, reader, d);
        issued.push(d.unit.key);
        return;
      }
      // A CA that exists rotates with trust overlap, its children with it.
      rotating.add(item.name);
    }
    // Every decision walkIssuance hands over is due (it has an IssueReason); one rotation per item.
    if (!dueItems.has(item.name)) dueItems.set(item.name, d.reason);
  };
  if (!nothingToRead) await walkIssuance(deps, inventory, reader, walk, only && { only });

  // An external CA whose served chain changed rotates with trust overlap, like one of rekey's own CAs.
  for (const c of await checkExternalChains(deps, inventory, reader, new Set([...rotating, ...dueItems.keys()]))) {
    if (c.changed) {
      rotating.add(c.authority);
      dueItems.set(c.authority, c.reason);
    } else if (c.error) skipped.push({ item: c.authority, reason: `the CA's chain could not be read: ${c.error}` });
  }

  for (const unit of units) {
    const m = (await reader.current(unit.storeName))?.material;
    if (m?.type === 'certificate' && isDue(unit.item, m, now)) {
      events.push(
        makeEvent(EventType.ExpiringSoon, { inventory: inventory.name, item: unit.key }, { notAfter: m.notAfter, serial: m.serial }),
      );
    }
  }

  for (const [name, reason] of dueItems) {
    const item = defined(inventory.items.get(name));
    if (!isRunnable(rotationKindOf(item))) {
      skipped.push({ item: name, reason: `${reason}: ${rotationKindOf(item)} rotation is started by hand in this version` });
      continue;
    }
    const running = (await deps.journal.listByItem(inventory.name, name)).some((r) => r.status === RotationStatus.Running);
    if (running) {
      skipped.push({ item: name, reason: 'a rotation is already running' });
      continue;
    }
    try {
      const record = await startRotation(deps, inventory, name, { trigger: Trigger.Schedule, reason });
      started.push({ item: name, rotationId: record.id, reason });
    } catch (e) {
      if (!(e instanceof RotationLockedError) && !(isRekeyError(e) && e.retryable)) throw e;
      skipped.push({ item: name, reason: e.message });
    }
  }

  // What this pass made (a first authority, a signing key generated because its Secret was missing or empty, a first
  // token) is written now, as apply would: on AWS nothing else would ever write it, and it is not drift.
  const made = new Set(issued);
  const fresh = allUnits(inventory).filter((u) => made.has(u.key));
  if (fresh.length) await syncUnits(deps, inventory, fresh, reader);

  // Drift: compare what clusters hold with the store, for units not being rotated right now.
  // A scan of what is due leaves that to the full reconcile.
  const settled = mode === ScanMode.Full ? allUnits(inventory).filter((u) => !dueItems.has(u.item.name)) : [];
  const report = settled.length ? await syncUnits(deps, inventory, settled, reader, { dryRun: !options.repair }) : { secrets: [] };
  const drift = report.secrets
    .filter((s) => (s.change === SyncChange.Updated || s.change === SyncChange.Created) && s.reason !== SyncReason.SecretAdopted)
    .map((s) => ({ item: s.unit, cluster: s.cluster, namespace: s.namespace, secret: s.secret, reason: s.reason ?? s.change }));
  for (const d of drift) {
    // When repairing, syncUnits has already reported edited Secrets; deleted ones are reported here.
    if (options.repair && d.reason === SyncReason.SecretDrifted) continue;
    events.push(
      makeEvent(
        EventType.DriftDetected,
        { inventory: inventory.name, item: d.item },
        { cluster: d.cluster, namespace: d.namespace, secret: d.secret, reason: d.reason, repaired: Boolean(options.repair) },
      ),
    );
  }
  const unlisted = mode === ScanMode.Full ? await findUnlistedConsumers(deps, inventory) : [];
  events.push(...unlistedConsumerEvents(inventory, unlisted, now));
  if (events.length) await deps.events.publish(events);
  const reindexed = index ? await keepIndex(deps, inventory, reader, { mode, units, indexed, digest, lookahead }) : 0;
  // Requests made with kubectl: after the due rotations, so one asked for an item that is due now waits for it.
  const requests = await pickUpRequests(deps, inventory);
  return {
    requests,
    started,
    issued,
    expiring: events.filter((e) => e.type === EventType.ExpiringSoon).map((e) => ({ item: e.detail.item, notAfter: e.detail.notAfter })),
    drift,
    skipped,
    unlisted,
    recovered,
    mode,
    reindexed,
  };
}

/**
 * Brings the renewal index in line with what this scan read (every unit's current version is in the reader's cache,
 * so this reads nothing more from the store). Full: every unit's entry written where missing or different, entries of
 * units that left the inventory removed, the inventory marked reconciled. Due: entries of the units read that are not
 * due after all (an entry marked for re-reading, or one a lost write left stale) get their real instant.
 */
async function keepIndex(
  deps: Deps,
  inventory: Inventory,
  reader: MaterialReader,
  scanned: { mode: ScanMode; units: readonly Unit[]; indexed: readonly RenewalEntry[]; digest: string; lookahead: Date },
): Promise<number> {
  const index = defined(deps.renewals, 'a renewal index');
  const wanted = new Map<string, RenewalEntry>();
  for (const unit of scanned.units) {
    const current = await reader.current(unit.storeName);
    const entry = current && renewalEntryOf(unit, current.versionId, current.material);
    if (entry) wanted.set(unit.storeName, entry);
  }
  const same = (a: RenewalEntry | undefined, b: RenewalEntry) => a?.renewAt === b.renewAt && a.versionId === b.versionId;
  if (scanned.mode === ScanMode.Due) {
    const had = new Map(scanned.indexed.map((e) => [e.unit, e]));
    const fixes = [...wanted.values()].filter((e) => !same(had.get(e.unit), e) && Date.parse(e.renewAt) > scanned.lookahead.getTime());
    if (fixes.length) await index.putRenewals(inventory.name, fixes);
    return fixes.length;
  }
  const had = new Map((await index.allRenewals(inventory.name)).map((e) => [e.unit, e]));
  const fixes = [...wanted.values()].filter((e) => !same(had.get(e.unit), e));
  const known = new Set(allUnits(inventory).map((u) => u.storeName));
  const gone = [...had.keys()].filter((u) => !known.has(u) || !wanted.has(u));
  if (fixes.length) await index.putRenewals(inventory.name, fixes);
  if (gone.length) await index.removeRenewals(inventory.name, gone);
  await index.markReconciled(inventory.name, { digest: scanned.digest, reconciledAt: deps.clock.now().toISOString() });
  return fixes.length;
}
