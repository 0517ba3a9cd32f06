import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../shared/app/apply.js';
import { recover, RecoveryAction } from '../../../shared/app/recover.js';
import { scan } from '../../../shared/app/scan.js';
import { executeStep, startRotation } from '../../../shared/app/rotation/index.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}]
authorities: [{name: ca, commonName: shop ca, key: ECDSA-P256}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}}
  - {name: db, issuer: ca, usage: server, commonName: db, perReplica: {statefulSet: db, replicas: 2}, secret: {name: db-tls, namespace: shop}}
`;
const WEB = 'rekey/shop/web';
const DEAD = { owner: 'cli:host:1:dead', ttlMs: 60_000 };
const ME = { owner: 'cli:host:2:alive', ttlMs: 60_000 };

let root: string;
let inventory: Inventory;
let rt: TestRuntime;
let now: Date;

beforeEach(async () => {
  root = await makeTempDir('rekey-recover-');
  inventory = loadInventory(INVENTORY);
  now = new Date();
  rt = localRuntime(inventory, root, { now: () => now });
  await apply(rt.deps, inventory);
});
afterEach(() => removeTempDir(root));

const pendingOf = async (name: string) =>
  (await rt.store.describe(name))!.versions.filter((v) => v.stages.includes(Stage.Pending)).map((v) => v.versionId);
const currentOf = async (name: string) => (await rt.store.getVersion(name, { stage: Stage.Current }))!.versionId;

/** A rotation started by a worker that then died after running `steps` of its steps. */
async function killedRotation(item: string, steps: number): Promise<string> {
  const record = await startRotation(rt.deps, inventory, item, { trigger: Trigger.Manual, reason: 'test', lease: DEAD });
  // One run of `steps` steps; stopped before its store write, it records nothing (the rotation stays at issue).
  await executeStep(
    rt.deps,
    inventory,
    { rotationId: record.id, inventory: 'shop', item, step: record.step, attempt: record.attempt },
    { maxSteps: steps },
  );
  // The dead worker's queued messages died with it.
  await rt.queue.drain(async () => {});
  return record.id;
}

describe('recover (exclusive: the CLI holds the state folder)', () => {
  it('discards a pending version no rotation owns (an apply killed between issuing and promoting), and changes nothing the second time', async () => {
    // Prepare
    const before = await currentOf(WEB);
    await rt.store.putPending(
      WEB,
      'orphan-1',
      JSON.stringify({ type: 'password', password: 'x', createdAt: now.toISOString(), specHash: 'x' }),
    );
    // Act
    const report = await recover(rt.deps, inventory, { lease: ME, exclusive: true, queue: rt.queue });
    const again = await recover(rt.deps, inventory, { lease: ME, exclusive: true, queue: rt.queue });
    // Assess
    expect(report.entries).toEqual([expect.objectContaining({ action: RecoveryAction.Discarded, item: 'web', versionId: 'orphan-1' })]);
    expect(await pendingOf(WEB)).toEqual([]);
    expect(await currentOf(WEB)).toBe(before);
    expect((await rt.store.describe(WEB))!.versions.some((v) => v.versionId === 'orphan-1')).toBe(true);
    expect(again.entries).toEqual([]);
  });

  it.each([
    ['after issue', 1],
    ['after test', 2],
    ['after promote', 3],
    ['after sync', 4],
  ])('resumes a rotation whose worker died %s, from the step it had reached, to completion', async (_label, steps) => {
    // Prepare
    const id = await killedRotation('db', steps);
    const stuck = (await rt.journal.get(id))!;
    // Act
    const report = await recover(rt.deps, inventory, { lease: ME, exclusive: true, queue: rt.queue });
    // Assess
    expect(report.entries).toEqual([
      expect.objectContaining({ action: RecoveryAction.Resumed, rotationId: id, step: stuck.step, outcome: RotationStatus.Completed }),
    ]);
    const final = (await rt.journal.get(id))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect(final.lease?.owner).toBe(ME.owner);
    for (const unit of ['rekey/shop/db/0', 'rekey/shop/db/1']) {
      expect(await currentOf(unit)).toBe(id);
      expect(await pendingOf(unit)).toEqual([]);
    }
    expect(await readdir(join(rt.stateDir, 'journal', 'locks'))).toEqual([]);
  });

  it('drops restarts the dead process had requested (its in-process restart worker died with it), so the step asks again', async () => {
    // Prepare
    const id = await killedRotation('web', 4);
    const r = (await rt.journal.get(id))!;
    await rt.journal.update({
      ...r,
      revision: r.revision + 1,
      restarts: { dc1: { state: 'requested', at: now.toISOString(), workloads: ['Deployment/shop/web'] } },
      restartDeadline: now.toISOString(),
    });
    // Act
    const report = await recover(rt.deps, inventory, { lease: ME, exclusive: true, queue: rt.queue });
    // Assess
    expect(report.entries).toEqual([
      expect.objectContaining({ action: RecoveryAction.Resumed, step: 'restart', outcome: RotationStatus.Completed }),
    ]);
    const final = (await rt.journal.get(id))!;
    expect(final.restarts).toEqual({});
    expect(final.restartDeadline).toBeUndefined();
  });

  it('after resuming, a new rotation of the same item starts (the item is no longer locked)', async () => {
    // Prepare
    await killedRotation('web', 1);
    // Act
    await recover(rt.deps, inventory, { lease: ME, exclusive: true, queue: rt.queue });
    const next = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'again', lease: ME });
    // Assess
    expect(next.status).toBe(RotationStatus.Running);
  });

  it('fails a stuck rotation whose item left the inventory, discarding its pending version', async () => {
    // Prepare
    const id = await killedRotation('web', 1);
    const without = loadInventory(INVENTORY.replace(/ {2}- \{name: web,.*\n/, ''));
    // Act
    const report = await recover(rt.deps, without, { lease: ME, exclusive: true, queue: rt.queue });
    // Assess
    expect(report.entries).toEqual([expect.objectContaining({ action: RecoveryAction.Failed, rotationId: id })]);
    expect((await rt.journal.get(id))!.status).toBe(RotationStatus.Failed);
    expect(await pendingOf(WEB)).toEqual([]);
  });

  it('frees an item lock whose rotation record was never written (a create killed between its two writes)', async () => {
    // Prepare
    const locks = join(rt.stateDir, 'journal', 'locks');
    await mkdir(locks, { recursive: true });
    await writeFile(join(locks, `${encodeURIComponent('shop/web')}.lock`), 'never-written');
    await writeFile(join(rt.stateDir, 'journal', '.x.json.abc.tmp'), '{"half');
    // Act
    const report = await recover(rt.deps, inventory, { lease: ME, exclusive: true, queue: rt.queue });
    const started = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'after', lease: ME });
    // Assess
    expect(report.entries).toEqual([expect.objectContaining({ action: RecoveryAction.LockFreed, item: 'shop/web' })]);
    expect(started.status).toBe(RotationStatus.Running);
    expect((await readdir(join(rt.stateDir, 'journal'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('recover (not exclusive: other workers may be alive, as on Lambda)', () => {
  it('leaves a rotation whose lease is live (a leaf rotation has no pending version to keep)', async () => {
    // Prepare
    const id = await killedRotation('web', 1);
    // Act
    const report = await recover(rt.deps, inventory, { lease: ME, exclusive: false });
    // Assess
    expect(report.entries).toEqual([expect.objectContaining({ action: RecoveryAction.LeftRunning, rotationId: id })]);
    expect(await pendingOf(WEB)).toEqual([]);
    expect(rt.queue.size).toBe(0);
  });

  it('queues the step of a rotation whose lease expired, for the worker that will claim it', async () => {
    // Prepare
    const id = await killedRotation('web', 2);
    now = new Date(now.getTime() + DEAD.ttlMs + 1);
    // Act
    const report = await recover(rt.deps, inventory, { lease: ME, exclusive: false });
    // Assess
    expect(report.entries).toEqual([expect.objectContaining({ action: RecoveryAction.Resumed, rotationId: id, step: 'issue' })]);
    expect(rt.queue.size).toBe(1);
    expect((await rt.journal.get(id))!.lease?.owner).toBe(DEAD.owner);
  });

  it('leaves a rotation between two one-step workers (lease released, record fresh): only a record stale past a lease is resumed', async () => {
    // Prepare
    const id = await killedRotation('web', 1);
    const r = (await rt.journal.get(id))!;
    await rt.journal.claimLease(id, { owner: DEAD.owner, expiresAt: now.toISOString(), now: now.toISOString() });
    // Act
    const fresh = await recover(rt.deps, inventory, { lease: ME, exclusive: false });
    now = new Date(Date.parse(r.updatedAt) + ME.ttlMs);
    const stale = await recover(rt.deps, inventory, { lease: ME, exclusive: false });
    // Assess
    expect(fresh.entries).toEqual([expect.objectContaining({ action: RecoveryAction.LeftRunning, reason: 'between steps' })]);
    expect(stale.entries).toEqual([expect.objectContaining({ action: RecoveryAction.Resumed, rotationId: id, step: 'issue' })]);
  });

  it('keeps an unowned pending version younger than a lease (an apply elsewhere may be about to promote it), discards it once older', async () => {
    // Prepare
    await rt.store.putPending(
      WEB,
      'in-flight',
      JSON.stringify({ type: 'password', password: 'x', createdAt: now.toISOString(), specHash: 'x' }),
    );
    // Act
    const young = await recover(rt.deps, inventory, { lease: ME, exclusive: false });
    now = new Date(now.getTime() + ME.ttlMs + 1);
    const old = await recover(rt.deps, inventory, { lease: ME, exclusive: false });
    // Assess
    expect(young.entries).toEqual([]);
    expect(old.entries).toEqual([expect.objectContaining({ action: RecoveryAction.Discarded, versionId: 'in-flight' })]);
  });

  it('the scheduled scan, given recover options, re-queues a stale rotation before deciding what is due', async () => {
    // Prepare
    const id = await killedRotation('web', 1);
    now = new Date(now.getTime() + 10 * 60_000);
    // Act
    const result = await scan(rt.deps, inventory, { recover: { lease: ME, exclusive: false } });
    // Assess
    expect(result.recovered).toEqual([expect.objectContaining({ action: RecoveryAction.Resumed, rotationId: id, step: 'issue' })]);
    expect(result.started).toEqual([]);
    expect(rt.queue.size).toBe(1);
  });
});
