import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonJournal } from '../../../shared/adapters/local/json-journal.js';
import { apply } from '../../../shared/app/apply.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { claimOf, executeLeasedStep } from '../../../shared/app/rotation/lease.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../shared/domain/rotation/record.js';
import { LeaseHeldError } from '../../../shared/ports/journal.js';
import { localRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { leafRecord } from '../../fixtures/rotation-record.js';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();

let root: string;
beforeEach(async () => {
  root = await makeTempDir('rekey-lease-');
});
afterEach(() => removeTempDir(root));

const record = (id: string, overrides: Partial<RotationRecord> = {}): RotationRecord =>
  leafRecord({ id, step: 'sync', startedAt: at(0), updatedAt: at(0), ...overrides });

describe('JsonJournal.claimLease', () => {
  it('grants a record without lease, renews its owner, and bumps the revision each time', async () => {
    // Prepare
    const journal = new JsonJournal(join(root, 'journal'));
    await journal.create(record('r1'));
    // Act
    const first = await journal.claimLease('r1', { owner: 'a', expiresAt: at(60_000), now: at(0) });
    const renewed = await journal.claimLease('r1', { owner: 'a', expiresAt: at(90_000), now: at(30_000) });
    // Assess
    expect(first?.lease).toEqual({ owner: 'a', expiresAt: at(60_000) });
    expect(renewed?.lease).toEqual({ owner: 'a', expiresAt: at(90_000) });
    expect(renewed?.revision).toBe(3);
    expect(await journal.get('r1')).toEqual(renewed);
  });

  it('refuses another owner while the lease is live (LeaseHeldError, retryable, naming the holder), grants it once expired', async () => {
    // Prepare
    const journal = new JsonJournal(join(root, 'journal'));
    await journal.create(record('r1', { lease: { owner: 'dead', expiresAt: at(60_000) } }));
    // Act
    const refused = await journal.claimLease('r1', { owner: 'b', expiresAt: at(120_000), now: at(59_999) }).catch((e: unknown) => e);
    const taken = await journal.claimLease('r1', { owner: 'b', expiresAt: at(120_000), now: at(60_000) });
    // Assess
    expect(refused).toBeInstanceOf(LeaseHeldError);
    expect((refused as LeaseHeldError).retryable).toBe(true);
    expect((refused as LeaseHeldError).message).toContain('dead');
    expect(taken?.lease?.owner).toBe('b');
  });

  it('force takes a live lease (the caller knows its holder is gone); finished and missing records are left alone', async () => {
    // Prepare
    const journal = new JsonJournal(join(root, 'journal'));
    await journal.create(record('r1', { lease: { owner: 'dead', expiresAt: at(60_000) } }));
    await journal.create(record('done', { item: 'db', status: RotationStatus.Completed }));
    // Act
    const forced = await journal.claimLease('r1', { owner: 'b', expiresAt: at(60_000), now: at(0), force: true });
    const finished = await journal.claimLease('done', { owner: 'b', expiresAt: at(60_000), now: at(0) });
    const missing = await journal.claimLease('nope', { owner: 'b', expiresAt: at(60_000), now: at(0) });
    // Assess
    expect(forced?.lease?.owner).toBe('b');
    expect(finished).toEqual(record('done', { item: 'db', status: RotationStatus.Completed }));
    expect(missing).toBeUndefined();
  });

  it('two claims at once from different owners: exactly one wins', async () => {
    // Prepare
    const journal = new JsonJournal(join(root, 'journal'));
    await journal.create(record('r1', { lease: { owner: 'dead', expiresAt: at(0) } }));
    // Act
    const results = await Promise.allSettled(
      ['a', 'b', 'c'].map((owner) => journal.claimLease('r1', { owner, expiresAt: at(60_000), now: at(1) })),
    );
    // Assess
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => r.reason)).toEqual([
      expect.any(LeaseHeldError),
      expect.any(LeaseHeldError),
    ]);
  });
});

describe('steps under a lease', () => {
  const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}]
authorities: [{name: ca, commonName: shop ca, key: ECDSA-P256}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}}
`;

  it("a redelivered step of a dead worker's rotation is refused until its lease expires, then taken over and run", async () => {
    // Prepare
    const inventory = loadInventory(INVENTORY);
    let now = T0;
    const rt = localRuntime(inventory, root, { now: () => now });
    await apply(rt.deps, inventory);
    const dead = { owner: 'lambda:dead', ttlMs: 120_000 };
    const next = { owner: 'lambda:next', ttlMs: 120_000 };
    const started = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Api, reason: 'test', lease: dead });
    const message = { rotationId: started.id, inventory: 'shop', item: 'web', step: started.step, attempt: 0 };
    // Act
    now = new Date(T0.getTime() + 60_000);
    const early = await executeLeasedStep(rt.deps, inventory, message, next).catch((e: unknown) => e);
    now = new Date(T0.getTime() + 120_000);
    const late = await executeLeasedStep(rt.deps, inventory, message, next);
    // Assess
    expect(early).toBeInstanceOf(LeaseHeldError);
    expect(late).toBe('ran');
    const record = (await rt.journal.get(started.id))!;
    expect(record.status).toBe(RotationStatus.Completed);
    expect(record.lease).toEqual({ owner: next.owner, expiresAt: claimOf({ clock: { now: () => now } }, next).expiresAt });
  });

  it('a one-step worker (Lambda) ends its lease in the journal write that records its run, so another worker may claim at once', async () => {
    // Prepare
    const inventory = loadInventory(INVENTORY);
    const now = T0;
    const rt = localRuntime(inventory, root, { now: () => now });
    await apply(rt.deps, inventory);
    const started = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Api, reason: 'test' });
    const updates: number[] = [];
    const update = rt.journal.update.bind(rt.journal);
    rt.journal.update = async (r) => {
      updates.push(r.revision);
      return update(r);
    };
    // Act: no live cluster, so nothing waits and the one message runs the whole machine
    const result = await executeLeasedStep(
      rt.deps,
      inventory,
      { rotationId: started.id, inventory: 'shop', item: 'web', step: 'issue', attempt: 0 },
      { owner: 'lambda:m1:1', ttlMs: 120_000 },
      { release: true },
    );
    // Assess: one journal write after the claim, and it ended the lease
    expect(result).toBe('ran');
    const record = (await rt.journal.get(started.id))!;
    expect(record.status).toBe(RotationStatus.Completed);
    expect(record.lease).toEqual({ owner: 'lambda:m1:1', expiresAt: T0.toISOString() });
    expect(updates).toHaveLength(1);
  });

  it('drive leaves a rotation another live worker holds: no step run, not failed', async () => {
    // Prepare
    const inventory = loadInventory(INVENTORY);
    const rt = localRuntime(inventory, root);
    await apply(rt.deps, inventory);
    const other = { owner: 'cli:elsewhere', ttlMs: 600_000 };
    const started = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test', lease: other });
    // Act
    await driveRotations(rt.deps, inventory, rt.queue, { lease: { owner: 'cli:me', ttlMs: 600_000 } });
    // Assess
    const record = (await rt.journal.get(started.id))!;
    expect(record.status).toBe(RotationStatus.Running);
    expect(record.step).toBe('issue');
    expect(record.lease?.owner).toBe(other.owner);
  });
});
