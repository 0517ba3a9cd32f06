import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import { driveRotations, startRotation } from '../../../../shared/app/rotation/index.js';
import { RotationLockedError } from '../../../../shared/domain/errors.js';
import { EventType, type RekeyEvent } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger } from '../../../../shared/domain/rotation/record.js';
import { decodeMaterial, encodeMaterial, type CertificateMaterial } from '../../../../shared/domain/store/material.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}, {name: dc2}]
authorities: [{name: ca, commonName: shop ca, key: ECDSA-P256}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web, web.shop.svc], secret: {name: web-tls, namespace: shop}, consumers: [Deployment/web]}
  - {name: db, issuer: ca, usage: server, key: Ed25519, commonName: db, perReplica: {statefulSet: db, replicas: 2}, secret: {name: db-tls, namespace: shop, clusters: [dc2]}}
`;
const WEB = 'rekey/shop/web';

let root: string;
let inventory: Inventory;
let rt: TestRuntime;

beforeEach(async () => {
  root = await makeTempDir('rekey-rotation-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
  await apply(rt.deps, inventory);
});
afterEach(() => removeTempDir(root));

const current = async (name = WEB) => {
  const v = (await rt.store.getVersion(name))!;
  return { versionId: v.versionId, material: decodeMaterial(v.value, name) as CertificateMaterial };
};
const manifest = async (cluster: string, name = 'web-tls') =>
  load(await readFile(join(rt.outDir, cluster, 'shop', `${name}.yaml`), 'utf8')) as {
    metadata: { annotations: Record<string, string> };
    data: Record<string, string>;
  };
const eventsOf = (rotationId: string): RekeyEvent[] => rt.bus.published.filter((e) => e.detail.rotationId === rotationId);

describe('leaf rotation (embedded runtime, manifests on disk)', () => {
  it('issues a new serial, keeps the old version as AWSPREVIOUS, writes every cluster, and emits the events in order', async () => {
    // Prepare
    const before = await current();
    // Act
    const record = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(rt.deps, inventory, rt.queue);
    // Assess: the journal
    const final = (await rt.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect(final.previousVersions).toEqual({ [WEB]: before.versionId });
    expect(final.history.map((h) => `${h.step}:${h.status}`)).toEqual([
      'issue:completed',
      'test:completed',
      'promote:completed',
      'sync:completed',
      'restart:skipped',
      'verify:completed',
    ]);
    // the store: new current (the rotation id is the version id), old one retrievable as AWSPREVIOUS
    const after = await current();
    expect(after.versionId).toBe(record.id);
    expect(after.material.serial).not.toBe(before.material.serial);
    const previous = (await rt.store.getVersion(WEB, { stage: Stage.Previous }))!;
    expect(previous.versionId).toBe(before.versionId);
    expect((decodeMaterial(previous.value, WEB) as CertificateMaterial).serial).toBe(before.material.serial);
    // the targets
    for (const cluster of ['dc1', 'dc2']) {
      const m = await manifest(cluster);
      expect(m.metadata.annotations['rekey/version']).toBe(record.id);
      expect(Buffer.from(m.data['tls.crt']!, 'base64').toString()).toContain(after.material.cert);
    }
    // the events
    const types = eventsOf(record.id).map((e) => (e.type === EventType.RotationStepCompleted ? `${e.type}(${e.detail.step})` : e.type));
    expect(types).toEqual([
      // one run: what the steps did, then (after the one journal write) that the rotation started (its first
      // recorded write announces it, stamped with its start) and that each step completed
      'CertificateIssued',
      'VersionPromoted',
      'SecretSynced',
      'SecretSynced',
      // manifests on disk: nobody here can restart, so the request is only an event per cluster
      'RestartRequested',
      'RestartRequested',
      'RotationStarted',
      'RotationStepCompleted(issue)',
      'RotationStepCompleted(test)',
      'RotationStepCompleted(promote)',
      'RotationStepCompleted(sync)',
      'RotationStepCompleted(restart)',
      'RotationStepCompleted(verify)',
      'RotationCompleted',
    ]);
    expect(eventsOf(record.id).every((e) => e.detail.inventory === 'shop' && e.detail.item === 'web')).toBe(true);
    expect(
      new Set(
        eventsOf(record.id)
          .filter((e) => e.type === EventType.SecretSynced)
          .map((e) => e.detail.cluster),
      ),
    ).toEqual(new Set(['dc1', 'dc2']));
  });

  it('a per-replica certificate rotates every replica in one rotation', async () => {
    // Prepare
    const before = await Promise.all([0, 1].map((i) => current(`rekey/shop/db/${i}`)));
    // Act
    const record = await startRotation(rt.deps, inventory, 'db', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(rt.deps, inventory, rt.queue);
    // Assess
    expect((await rt.journal.get(record.id))!.status).toBe(RotationStatus.Completed);
    for (const i of [0, 1]) {
      const after = await current(`rekey/shop/db/${i}`);
      expect(after.versionId).toBe(record.id);
      expect(after.material.serial).not.toBe(before[i]!.material.serial);
      expect((await manifest('dc2', `db-tls-${i}`)).metadata.annotations['rekey/version']).toBe(record.id);
    }
    expect(
      eventsOf(record.id)
        .filter((e) => e.type === EventType.CertificateIssued)
        .map((e) => e.detail.item),
    ).toEqual(['db/0', 'db/1']);
  });

  it('a second rotation of an item while one is running is refused with RotationLockedError', async () => {
    // Prepare
    const first = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'first' });
    // Act
    const second = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'second' }).catch((e: unknown) => e);
    // Assess
    expect(second).toBeInstanceOf(RotationLockedError);
    expect((second as Error).message).toContain(first.id);
    expect(await rt.journal.listByItem('shop', 'web')).toHaveLength(1);
  });

  it('a pending version of another rotation locks an authority; a leaf, which writes no pending version, rotates beside it', async () => {
    // Prepare: someone else holds AWSPENDING on the CA and on the leaf
    const ca = (await rt.store.getVersion('rekey/shop/ca'))!;
    await rt.store.putPending('rekey/shop/ca', 'foreign-rotation', ca.value);
    await rt.store.putPending(WEB, 'foreign-rotation', encodeMaterial((await current()).material));
    // Act
    const error = await startRotation(rt.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'test' }).catch((e: unknown) => e);
    const leaf = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(rt.deps, inventory, rt.queue);
    // Assess
    expect(error).toBeInstanceOf(RotationLockedError);
    expect((error as Error).message).toContain('foreign-rotation');
    expect(await rt.journal.listByItem('shop', 'ca')).toHaveLength(0);
    expect((await rt.journal.get(leaf.id))!.status).toBe(RotationStatus.Completed);
    expect((await current()).versionId).toBe(leaf.id);
    expect((await rt.store.getVersion(WEB, { stage: Stage.Pending }))!.versionId).toBe('foreign-rotation');
  });

  it('concurrent starts of one item: exactly one rotation starts, the other is refused with RotationLockedError', async () => {
    // Prepare: watch every store write (a leaf rotation writes once: putCurrent)
    const writes: string[] = [];
    const put = rt.store.putCurrent.bind(rt.store);
    rt.store.putCurrent = async (...args) => {
      const r = await put(...args);
      if (r.created) writes.push(args[1]);
      return r;
    };
    // Act: both start at once; the journal takes the item's lock atomically
    const started = await Promise.allSettled([
      startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'a' }),
      startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'b' }),
    ]);
    await driveRotations(rt.deps, inventory, rt.queue);
    // Assess: every refusal is a RotationLockedError; whatever started finished, with one store write
    const ok = started.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<{ id: string }>).value.id);
    for (const s of started.filter((x) => x.status === 'rejected')) expect(s.reason).toBeInstanceOf(RotationLockedError);
    expect(ok).toHaveLength(1);
    expect(started.filter((s) => s.status === 'rejected')).toHaveLength(1);
    for (const id of ok) expect((await rt.journal.get(id))!.status).toBe(RotationStatus.Completed);
    expect(writes).toEqual(ok);
    const d = (await rt.store.describe(WEB))!;
    expect(d.versions.filter((v) => v.stages.includes(Stage.Current))).toHaveLength(1);
    expect(d.versions.filter((v) => v.stages.includes(Stage.Pending))).toHaveLength(0);
    expect(ok).toContain((await current()).versionId);
  });

  it('a broken version found pending under the rotation id is tested, refused and discarded; the current one stays, nothing is written', async () => {
    // Prepare: the pending version of the coming rotation is broken (its key belongs to another certificate), as a
    // rekey before the one-write protocol could leave it. The store write finds it under the rotation id and tests it.
    const before = await current();
    const other = await current('rekey/shop/db/0');
    const manifestBefore = await readFile(join(rt.outDir, 'dc1', 'shop', 'web-tls.yaml'), 'utf8');
    const record = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    const tampered: CertificateMaterial = { ...before.material, cert: before.material.cert, key: other.material.key, serial: 'tampered' };
    await rt.store.putPending(WEB, record.id, encodeMaterial(tampered));
    // Act
    await driveRotations(rt.deps, inventory, rt.queue);
    // Assess
    const final = (await rt.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.Failed);
    expect(final.step).toBe('issue');
    expect(final.error).toMatch(/private key does not match/);
    expect((await current()).versionId).toBe(before.versionId);
    const stages = Object.fromEntries((await rt.store.describe(WEB))!.versions.map((v) => [v.versionId, v.stages]));
    expect(stages[record.id]).toEqual([]);
    expect(stages[before.versionId]).toEqual([Stage.Current]);
    expect(await readFile(join(rt.outDir, 'dc1', 'shop', 'web-tls.yaml'), 'utf8')).toBe(manifestBefore);
    const types = eventsOf(record.id).map((e) => e.type);
    // No run was recorded: the failure announces the start too, once, in the same publish.
    expect(types.filter((t) => t === EventType.RotationStarted || t === EventType.RotationFailed)).toEqual([
      EventType.RotationStarted,
      EventType.RotationFailed,
    ]);
    expect(types).not.toContain(EventType.VersionPromoted);
    expect(types).not.toContain(EventType.SecretSynced);
    // and the item can be rotated again
    const again = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'retry' });
    await driveRotations(rt.deps, inventory, rt.queue);
    expect((await rt.journal.get(again.id))!.status).toBe(RotationStatus.Completed);
  });

  it('a failed verification after promotion rolls back to AWSPREVIOUS, re-syncs the targets and emits RotationRolledBack', async () => {
    // Prepare: someone edits the written manifest between sync and verify (which run in one go: right after the write)
    const before = await current();
    const record = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    const sink = rt.deps.clusters.get('dc2')!.secrets;
    const write = sink.writeSecret.bind(sink);
    let edited = false;
    sink.writeSecret = async (secret, options) => {
      const outcome = await write(secret, options);
      if (!edited && secret.annotations['rekey/version'] === record.id) {
        edited = true;
        const file = join(rt.outDir, 'dc2', 'shop', 'web-tls.yaml');
        const doc = load(readFileSync(file, 'utf8')) as { metadata: { annotations: Record<string, string> } };
        doc.metadata.annotations['rekey/version'] = 'edited-by-hand';
        writeFileSync(file, dump(doc));
      }
      return outcome;
    };
    // Act
    await driveRotations(rt.deps, inventory, rt.queue);
    // Assess
    const final = (await rt.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.RolledBack);
    expect(final.error).toMatch(/new version not in place at dc2\/shop\/web-tls/);
    const after = await current();
    expect(after.versionId).toBe(before.versionId);
    expect(after.material.serial).toBe(before.material.serial);
    expect((await rt.store.getVersion(WEB, { stage: Stage.Previous }))!.versionId).toBe(record.id);
    for (const cluster of ['dc1', 'dc2']) expect((await manifest(cluster)).metadata.annotations['rekey/version']).toBe(before.versionId);
    const types = eventsOf(record.id).map((e) => e.type);
    expect(types.slice(-2)).toEqual([EventType.RotationFailed, EventType.RotationRolledBack]);
    expect(types.filter((t) => t === EventType.SecretSynced).length).toBeGreaterThanOrEqual(3);
  });
});
