import { isRekeyError, RotationLockedError } from '../domain/errors.js';
import { EventType, makeEvent, type RekeyEvent } from '../domain/events/types.js';
import type { Inventory } from '../domain/inventory/model.js';
import { RotationKind, RotationStatus, Trigger } from '../domain/rotation/record.js';
import { isDue } from '../domain/plan/due.js';
import { SyncReason } from '../domain/sync/desired.js';
import { allUnits } from '../domain/units.js';
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
}

/**
 * The scheduled pass: starts rotations of items that are due (one per item, never beside a running one),
 * issues authorities that do not exist yet, emits ExpiringSoon for what is within its renewal window and
 * DriftDetected for cluster Secrets that differ from the store, and picks up RotationRequests (see requests.ts).
 * With `repair`, drifted Secrets are rewritten.
 */
export async function scan(
  deps: Deps,
  inventory: Inventory,
  options: { repair?: boolean; recover?: RecoverOptions } = {},
): Promise<ScanResult> {
  const recovered = options.recover ? (await recover(deps, inventory, options.recover)).entries : [];
  const reader = new MaterialReader(deps.store, inventory);
  const now = deps.clock.now();
  const started: { item: string; rotationId: string; reason: string }[] = [];
  const issued: string[] = [];
  const skipped: { item: string; reason: string }[] = [];
  const events: RekeyEvent[] = [];
  const dueItems = new Map<string, string>();
  // Authorities rotating (or about to): what they sign moves with their rotation, never on its own.
  const rotating = await rotatingAuthorities(deps, inventory);
  const keysRotating = await rotatingSigningKeys(deps, inventory);

  await walkIssuance(deps, inventory, reader, async (d) => {
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
  });

  // An external CA whose served chain changed rotates with trust overlap, like one of rekey's own CAs.
  for (const c of await checkExternalChains(deps, inventory, reader, new Set([...rotating, ...dueItems.keys()]))) {
    if (c.changed) {
      rotating.add(c.authority);
      dueItems.set(c.authority, c.reason);
    } else if (c.error) skipped.push({ item: c.authority, reason: `the CA's chain could not be read: ${c.error}` });
  }

  for (const unit of allUnits(inventory)) {
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

  // Drift: compare what clusters hold with the store, for units not being rotated right now.
  const settled = allUnits(inventory).filter((u) => !dueItems.has(u.item.name));
  const report = await syncUnits(deps, inventory, settled, reader, { dryRun: !options.repair });
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
  const unlisted = await findUnlistedConsumers(deps, inventory);
  events.push(...unlistedConsumerEvents(inventory, unlisted, now));
  await deps.events.publish(events);
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
  };
}
