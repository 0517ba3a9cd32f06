import { cp } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import { startRotation, StepExecution } from '../../../../shared/app/rotation/index.js';
import { EventType } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../../shared/domain/store/material.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { crashAfterSideEffect, deliverWithCrashes, type CrashPoint } from '../../../fixtures/crash-after-side-effect.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

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
const crashes: Array<{ name: string; faults: CrashPoint }> = [
  {
    name: 'after the run did its work, before the journal recorded it',
    faults: { journal: (r: RotationRecord) => lastStep(r)?.step === 'verify' },
  },
  { name: 'right after the store write, before the clusters were written', faults: { promote: () => true } },
  {
    name: 'after the store write, before CertificateIssued was published',
    faults: { publish: (e) => e.some((x) => x.type === EventType.CertificateIssued) },
  },
  { name: 'sync: after writing dc1, before writing dc2', faults: { write: (c) => c === 'dc2', writeAfter: 'dc1' } },
];

describe('rotation under worker crashes and duplicate deliveries', () => {
  it.each(crashes)('completes exactly once when the worker dies $name', async ({ faults }) => {
    // Prepare
    const f = crashAfterSideEffect(rt.deps, faults);
    const writesBefore = new Map([...rt.writers].map(([c, w]) => [c, w.writes.length]));
    const record = await startRotation(f.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'fault injection' });
    // Act
    const { deaths, duplicates } = await deliverWithCrashes(f.deps, inventory, f.messages);
    // Assess: the fault did fire, once, and every duplicate delivery was a no-op
    expect(deaths).toBe(1);
    expect(f.fired()).toBe(1);
    expect(duplicates.every((d) => d === StepExecution.Stale || d === StepExecution.Finished)).toBe(true);
    // one completed rotation
    const final = (await rt.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect(final.history.map((h) => h.step)).toEqual([...STEPS]);
    // one new version, promoted once, the old one kept as AWSPREVIOUS
    const versions = (await rt.store.describe(WEB))!.versions;
    expect(versions.map((v) => v.versionId)).toEqual([before.versionId, record.id]);
    expect(versions.map((v) => v.stages)).toEqual([[Stage.Previous], [Stage.Current]]);
    expect(f.counts.promotes).toBe(1);
    expect(f.counts.created.get(WEB)).toEqual([record.id]);
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
    const f = crashAfterSideEffect(rt.deps, {});
    const record = await startRotation(f.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'baseline' });
    // Act
    const { deaths } = await deliverWithCrashes(f.deps, inventory, f.messages);
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
