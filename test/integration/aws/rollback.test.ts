import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsAdapters } from '../../../shared/adapters/aws/index.js';
import { InProcessQueue } from '../../../shared/adapters/local/in-process-queue.js';
import { ManifestWriter } from '../../../shared/adapters/local/manifest-writer.js';
import { apply } from '../../../shared/app/apply.js';
import type { Deps } from '../../../shared/app/deps.js';
import { rollbackItem } from '../../../shared/app/rollback.js';
import { driveRotations, executeStep, startRotation } from '../../../shared/app/rotation/index.js';
import { EventType, type RekeyEvent } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { inventoryHead } from '../../fixtures/aws-inventories.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { pemBlocks } from '../../../shared/domain/pki/der.js';
import { AuthorityStep } from '../../../shared/domain/rotation/machines.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../shared/domain/store/material.js';
import { Annotation } from '../../../shared/domain/sync/desired.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import type { EventBus } from '../../../shared/ports/event-bus.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { freshResources, useMoto } from './moto.js';
import { issuerRegistry } from '../../../shared/adapters/issuers/registry.js';

/**
 * `rekey rollback` on the AWS adapters: versions and stages in Secrets Manager, rotation records in DynamoDB,
 * events on EventBridge (all moto). Steps run in this process (the step function's queue is not what is tested
 * here; the end-to-end test drives a CA rotation through SQS). Cluster Secrets go to manifests on disk.
 */

let dir: string;
beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-rollback-aws-');
});
afterAll(() => removeTempDir(dir));

const inventoryYaml = (name: string) => `${inventoryHead(name, { context: false })}authorities:
  - {name: ca, commonName: rollback ca, validity: 87600h, secret: {name: shop-ca, namespace: shop}}
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}}
  - {name: api-client, issuer: ca, usage: client, commonName: api-client, secret: {name: api-client, namespace: shop}}
`;

class RecordingBus implements EventBus {
  readonly published: RekeyEvent[] = [];
  constructor(private readonly inner: EventBus) {}
  async publish(events: readonly RekeyEvent[]): Promise<void> {
    await this.inner.publish(events);
    this.published.push(...events);
  }
}

interface Setup {
  readonly deps: Deps;
  readonly inventory: Inventory;
  readonly queue: InProcessQueue;
  readonly bus: RecordingBus;
  readonly writer: ManifestWriter;
}

async function setup(): Promise<Setup> {
  const r = await freshResources('rollback');
  const inventory = loadInventory(inventoryYaml(r.prefix), 'rollback.yaml');
  const aws = createAwsAdapters({
    stepQueueUrl: r.stepQueueUrl,
    delayQueueUrl: r.delayQueueUrl,
    deadLetterQueueUrl: r.deadLetterQueueUrl,
    eventBusName: r.eventBusName,
    journalTable: r.journalTable,
    region: 'us-east-1',
  });
  const bus = new RecordingBus(aws.events);
  let fakeNow = Date.now();
  const queue = new InProcessQueue(
    () => fakeNow,
    async (ms) => {
      fakeNow += ms;
    },
  );
  const writer = new ManifestWriter(`${dir}/${inventory.name}/dc1`);
  const clusters = new Map<string, Cluster>([['dc1', { name: 'dc1', secrets: writer }]]);
  const deps: Deps = {
    store: aws.store,
    issuers: issuerRegistry({ store: aws.store, inventory: inventory.name }),
    journal: aws.journal,
    queue,
    events: bus,
    clock: { now: () => new Date() },
    log: silentLogger,
    clusters,
  };
  await apply(deps, inventory);
  return { deps, inventory, queue, bus, writer };
}

const versionAt = async (s: Setup, item: string, stage: Stage) =>
  (await s.deps.store.getVersion(`rekey/${s.inventory.name}/${item}`, { stage }))?.versionId;

const written = async (s: Setup, name: string) => (await s.writer.listSecrets('shop')).find((x) => x.name === name);

/** Whether one of the CAs in `bundle` signed the first certificate of `tlsCrt`. */
const verifies = (bundle: string, tlsCrt: string): boolean => {
  const leaf = new X509Certificate(pemBlocks(tlsCrt)[0]!);
  return pemBlocks(bundle).some((d) => {
    const ca = new X509Certificate(d);
    return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
  });
};

class StopDrain extends Error {}

/** Runs the rotation's steps one message at a time until its next step is `step`. */
async function runUntil(s: Setup, rotationId: string, step: string): Promise<void> {
  for (let guard = 0; guard < 50; guard++) {
    if ((await s.deps.journal.get(rotationId))?.step === step) return;
    await s.queue
      .drain(async (m) => {
        await executeStep(s.deps, s.inventory, m);
        throw new StopDrain();
      })
      .catch((e: unknown) => {
        if (!(e instanceof StopDrain)) throw e;
      });
  }
  throw new Error(`rotation ${rotationId} never reached ${step}`);
}

describe('rollback on Secrets Manager and the DynamoDB journal (moto)', () => {
  it('a leaf: AWSPREVIOUS becomes AWSCURRENT again, the Secret is written back, RotationRolledBack is on the bus', async () => {
    // Prepare
    const s = await setup();
    const first = await versionAt(s, 'web', Stage.Current);
    const record = await startRotation(s.deps, s.inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(s.deps, s.inventory, s.queue);
    expect((await s.deps.journal.get(record.id))?.status).toBe(RotationStatus.Completed);
    expect(await versionAt(s, 'web', Stage.Current)).toBe(record.id);

    // Act
    const result = await rollbackItem(s.deps, s.inventory, 'web', { reason: 'operator' });

    // Assess
    expect(result).toMatchObject({ item: 'web', rotationId: record.id, units: ['web'] });
    expect(await versionAt(s, 'web', Stage.Current)).toBe(first);
    expect(await versionAt(s, 'web', Stage.Previous)).toBe(record.id);
    expect((await written(s, 'web-tls'))?.annotations[Annotation.Version]).toBe(first);
    // a completed rotation stays completed in the journal; the rollback is its own event
    expect((await s.deps.journal.get(record.id))?.status).toBe(RotationStatus.Completed);
    const rolledBack = s.bus.published.filter((e) => e.type === EventType.RotationRolledBack);
    expect(rolledBack.map((e) => e.detail)).toEqual([
      expect.objectContaining({ item: 'web', rotationId: record.id, units: ['web'], reason: 'operator' }),
    ]);
    // a second rollback does not put back the version the first one rolled away from
    await expect(rollbackItem(s.deps, s.inventory, 'web', { reason: 'twice' })).rejects.toThrow(/nothing to roll back/);
    expect(await versionAt(s, 'web', Stage.Current)).toBe(first);
  });

  it('an authority before the drop: old CA and old leaves back in Secrets Manager, the record rolled back in DynamoDB; after the drop, refused', async () => {
    // Prepare: the rotation has re-issued the children and waits to verify
    const s = await setup();
    const caName = `rekey/${s.inventory.name}/ca`;
    const caBefore = decodeMaterial((await s.deps.store.getVersion(caName))!.value, caName) as CertificateMaterial;
    const webBefore = await versionAt(s, 'web', Stage.Current);
    const clientBefore = await versionAt(s, 'api-client', Stage.Current);
    const record = await startRotation(s.deps, s.inventory, 'ca', { trigger: Trigger.Manual, reason: 'test' });
    await runUntil(s, record.id, AuthorityStep.Verify);
    expect(await versionAt(s, 'web', Stage.Current)).toBe(record.id);
    expect(pemBlocks((await written(s, 'web-tls'))!.data['ca.crt']!)).toHaveLength(2);

    // Act
    const result = await rollbackItem(s.deps, s.inventory, 'ca', { reason: 'operator' });

    // Assess
    expect(result.units).toEqual(expect.arrayContaining(['ca', 'web', 'api-client']));
    const caAfter = decodeMaterial((await s.deps.store.getVersion(caName))!.value, caName) as CertificateMaterial;
    expect(caAfter.fingerprint).toBe(caBefore.fingerprint);
    expect(await versionAt(s, 'web', Stage.Current)).toBe(webBefore);
    expect(await versionAt(s, 'api-client', Stage.Current)).toBe(clientBefore);
    const final = await s.deps.journal.get(record.id);
    expect(final?.status).toBe(RotationStatus.RolledBack);
    expect(final?.error).toBe('operator');
    // every Secret written back holds a leaf its own ca.crt verifies
    for (const name of ['web-tls', 'api-client']) {
      const sec = (await written(s, name))!;
      expect(verifies(sec.data['ca.crt']!, sec.data['tls.crt']!), name).toBe(true);
      expect(verifies(caBefore.cert, sec.data['tls.crt']!), name).toBe(true);
    }
    expect(s.bus.published.some((e) => e.type === EventType.RotationRolledBack && e.detail.rotationId === record.id)).toBe(true);
    // a step message still queued for the rolled-back rotation changes nothing
    await driveRotations(s.deps, s.inventory, s.queue);
    expect(await versionAt(s, 'web', Stage.Current)).toBe(webBefore);

    // Act again: a rotation that completed (old CA dropped) cannot be rolled back
    const done = await startRotation(s.deps, s.inventory, 'ca', { trigger: Trigger.Manual, reason: 'again' });
    await driveRotations(s.deps, s.inventory, s.queue);
    expect((await s.deps.journal.get(done.id))?.status).toBe(RotationStatus.Completed);
    await expect(rollbackItem(s.deps, s.inventory, 'ca', { reason: 'too late' })).rejects.toThrow(/already dropped the old CA/);
    // nor can a leaf go back to its version under the dropped CA: refused, nothing changes
    const webNow = await versionAt(s, 'web', Stage.Current);
    await expect(rollbackItem(s.deps, s.inventory, 'web', { reason: 'after the CA rotated' })).rejects.toThrow(
      /no longer trust.*rotate web instead/,
    );
    expect(await versionAt(s, 'web', Stage.Current)).toBe(webNow);
  });
});
