import { cp } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { executeStep, startRotation, StepExecution } from '../../../../shared/app/rotation/index.js';
import { EventType, type RekeyEvent } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../../shared/domain/store/material.js';
import type { Journal } from '../../../../shared/ports/journal.js';
import { Stage, type SecretStore } from '../../../../shared/ports/secret-store.js';
import type { StepMessage, StepQueue } from '../../../../shared/ports/step-queue.js';
import type { SecretSink } from '../../../../shared/ports/cluster.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/**
 * The worker "dies" at a chosen point: a plain Error (not a RekeyError, so nothing treats it as a step failure)
 * thrown once from a wrapped port, after a step's side effect and before the rotation advanced. The message is
 * then delivered again, as SQS does after the visibility timeout. The rotation must complete exactly once.
 */
class WorkerDied extends Error {}

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}, {name: dc2}]
authorities: [{name: ca, commonName: shop ca, key: ECDSA-P256}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}, consumers: [Deployment/web]}
`;
const WEB = 'rekey/shop/web';
const STEPS = ['issue', 'test', 'promote', 'sync', 'restart', 'verify'] as const;

interface Faults {
  journalUpdate?: (record: RotationRecord) => boolean;
  enqueue?: (message: StepMessage) => boolean;
  publish?: (events: readonly RekeyEvent[]) => boolean;
  promote?: boolean;
  write?: (cluster: string) => boolean;
  /** Let this cluster's write finish before the faulty write dies (writes run concurrently). */
  writeAfter?: string;
}

/** Wraps the runtime's ports; each fault fires once. Counts what reached the store and the targets. */
function faulty(rt: TestRuntime, faults: Faults) {
  const fired = new Set<string>();
  const once = (name: string, hit: boolean) => {
    if (!hit || fired.has(name)) return false;
    fired.add(name);
    return true;
  };
  const counts = { promote: 0, writes: new Map<string, number>() };
  let markWritten: () => void = () => {};
  const written = new Promise<void>((resolve) => (markWritten = resolve));
  const messages: StepMessage[] = [];
  const queue: StepQueue = {
    async enqueue(m) {
      if (once('enqueue', faults.enqueue?.(m) ?? false)) throw new WorkerDied(`died before queuing ${m.step}`);
      messages.push(m);
    },
  };
  const journal: Journal = {
    create: (r) => rt.journal.create(r),
    get: (id) => rt.journal.get(id),
    listByItem: (i, n) => rt.journal.listByItem(i, n),
    listByStatus: (s) => rt.journal.listByStatus(s),
    claimLease: (id, claim) => rt.journal.claimLease(id, claim),
    sweepLocks: (o) => rt.journal.sweepLocks(o),
    async update(r) {
      if (once('journal', faults.journalUpdate?.(r) ?? false)) throw new WorkerDied(`died before recording ${r.history.at(-1)?.step}`);
      await rt.journal.update(r);
    },
  };
  const store: SecretStore = {
    describe: (n) => rt.store.describe(n),
    getVersion: (n, s) => rt.store.getVersion(n, s),
    putPending: (n, v, value, o) => rt.store.putPending(n, v, value, o),
    discardPending: (n, v) => rt.store.discardPending(n, v),
    async putCurrent(n, v, value, o) {
      const r = await rt.store.putCurrent(n, v, value, o);
      if (r.created) counts.promote++;
      if (once('promote', faults.promote ?? false)) throw new WorkerDied('died right after promoting');
      return r;
    },
    rollback: (n) => rt.store.rollback(n),
    list: (p) => rt.store.list(p),
    async promote(n, v) {
      counts.promote++;
      await rt.store.promote(n, v);
      if (once('promote', faults.promote ?? false)) throw new WorkerDied('died right after promoting');
    },
  };
  const events = {
    async publish(e: readonly RekeyEvent[]) {
      if (once('publish', faults.publish?.(e) ?? false)) throw new WorkerDied(`died before publishing ${e.map((x) => x.type).join(',')}`);
      await rt.bus.publish(e);
    },
  };
  const clusters = new Map(
    [...rt.deps.clusters].map(([name, c]) => {
      const sink: SecretSink = {
        listSecrets: (ns) => c.secrets.listSecrets(ns),
        getSecret: (ns, n) => c.secrets.getSecret(ns, n),
        async writeSecret(secret, options) {
          if (once(`write-${name}`, faults.write?.(name) ?? false)) {
            if (faults.writeAfter) await written;
            throw new WorkerDied(`died before writing to ${name}`);
          }
          const outcome = await c.secrets.writeSecret(secret, options);
          counts.writes.set(name, (counts.writes.get(name) ?? 0) + 1);
          if (name === faults.writeAfter) markWritten();
          return outcome;
        },
      };
      return [name, { ...c, secrets: sink }];
    }),
  );
  const deps: Deps = { ...rt.deps, queue, journal, store, events, clusters };
  return { deps, messages, counts, fired };
}

/** A worker: takes messages in order; when it dies, the same message comes back. Also delivers every message twice. */
async function work(deps: Deps, inventory: Inventory, messages: StepMessage[]): Promise<{ deaths: number; duplicates: StepExecution[] }> {
  let deaths = 0;
  const duplicates: StepExecution[] = [];
  for (let guard = 0; messages.length && guard < 200; guard++) {
    const m = messages.shift()!;
    try {
      await executeStep(deps, inventory, m);
    } catch (e) {
      if (!(e instanceof WorkerDied)) throw e;
      deaths++;
      messages.unshift(m);
      continue;
    }
    // SQS delivers at least once: the same message again must change nothing.
    duplicates.push(await executeStep(deps, inventory, m));
  }
  return { deaths, duplicates };
}

let template: string;
let key: Buffer;
let root: string;
let inventory: Inventory;
let rt: TestRuntime;
let before: { versionId: string; serial: string };

// One apply for the file; each test starts from a copy of its state and manifests.
beforeAll(async () => {
  template = await makeTempDir('rekey-faults-template-');
  inventory = loadInventory(INVENTORY);
  const first = localRuntime(inventory, template);
  key = first.key;
  await apply(first.deps, inventory);
});
afterAll(() => removeTempDir(template));

beforeEach(async () => {
  root = await makeTempDir('rekey-faults-');
  await cp(template, root, { recursive: true });
  rt = localRuntime(inventory, root, { key });
  const v = (await rt.store.getVersion(WEB))!;
  before = { versionId: v.versionId, serial: (decodeMaterial(v.value, WEB) as CertificateMaterial).serial };
});
afterEach(() => removeTempDir(root));

const lastStep = (r: RotationRecord) => r.history.at(-1);

// Without live clusters the restart step is skipped, so the whole rotation is one run (issue ... verify) recorded by
// one journal write: the crash points are inside that run and around its write.
const crashes: Array<{ name: string; faults: Faults }> = [
  {
    name: 'after the run did its work, before the journal recorded it',
    faults: { journalUpdate: (r: RotationRecord) => lastStep(r)?.step === 'verify' },
  },
  { name: 'right after the store write, before the clusters were written', faults: { promote: true } },
  {
    name: 'after the store write, before CertificateIssued was published',
    faults: { publish: (e) => e.some((x) => x.type === EventType.CertificateIssued) },
  },
  { name: 'sync: after writing dc1, before writing dc2', faults: { write: (c) => c === 'dc2', writeAfter: 'dc1' } },
];

describe('rotation under worker crashes and duplicate deliveries', () => {
  it.each(crashes)('completes exactly once when the worker dies $name', async ({ faults }) => {
    // Prepare
    const f = faulty(rt, faults);
    const writesBefore = new Map([...rt.writers].map(([c, w]) => [c, w.writes.length]));
    const record = await startRotation(f.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'fault injection' });
    // Act
    const { deaths, duplicates } = await work(f.deps, inventory, f.messages);
    // Assess: the fault did fire, once, and every duplicate delivery was a no-op
    expect(deaths).toBe(1);
    expect(f.fired.size).toBe(1);
    expect(duplicates.every((d) => d === StepExecution.Stale || d === StepExecution.Finished)).toBe(true);
    // one completed rotation
    const final = (await rt.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect(final.history.map((h) => h.step)).toEqual([...STEPS]);
    // one new version, promoted once, the old one kept as AWSPREVIOUS
    const versions = (await rt.store.describe(WEB))!.versions;
    expect(versions.map((v) => v.versionId)).toEqual([before.versionId, record.id]);
    expect(versions.map((v) => v.stages)).toEqual([[Stage.Previous], [Stage.Current]]);
    expect(f.counts.promote).toBe(1);
    const now = decodeMaterial((await rt.store.getVersion(WEB))!.value, WEB) as CertificateMaterial;
    expect(now.serial).not.toBe(before.serial);
    // one write per cluster, and the targets hold the new version
    for (const [cluster, w] of rt.writers) {
      expect(w.writes.length - writesBefore.get(cluster)!, cluster).toBe(1);
      expect((await w.getSecret('shop', 'web-tls'))!.annotations['rekey/version']).toBe(record.id);
    }
    // events: never doubled where they mark a change of state
    const mine = rt.bus.published.filter((e) => e.detail.rotationId === record.id);
    const count = (t: string) => mine.filter((e) => e.type === t).length;
    expect(count(EventType.RotationStarted)).toBe(1);
    expect(count(EventType.RotationCompleted)).toBe(1);
    expect(count(EventType.CertificateIssued)).toBeLessThanOrEqual(1);
    expect(count(EventType.VersionPromoted)).toBeLessThanOrEqual(1);
    expect(count(EventType.SecretSynced)).toBeLessThanOrEqual(2);
    for (const step of STEPS)
      expect(
        mine.filter((e) => e.type === EventType.RotationStepCompleted && e.detail.step === step),
        step,
      ).toHaveLength(1);
  });

  it('without faults, every event is published exactly once (baseline for the cases above)', async () => {
    // Prepare
    const f = faulty(rt, {});
    const record = await startRotation(f.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'baseline' });
    // Act
    const { deaths } = await work(f.deps, inventory, f.messages);
    // Assess
    expect(deaths).toBe(0);
    const mine = rt.bus.published.filter((e) => e.detail.rotationId === record.id);
    const count = (t: string) => mine.filter((e) => e.type === t).length;
    expect([
      count(EventType.CertificateIssued),
      count(EventType.VersionPromoted),
      count(EventType.SecretSynced),
      count(EventType.RestartRequested),
    ]).toEqual([1, 1, 2, 2]);
  });
});
