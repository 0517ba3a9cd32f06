import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import { dropVersionId } from '../../../../shared/app/rotation/authority-steps.js';
import { startRotation, StepExecution } from '../../../../shared/app/rotation/index.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { AuthorityStep } from '../../../../shared/domain/rotation/machines.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import type { StepMessage } from '../../../../shared/ports/step-queue.js';
import { crashAfterSideEffect, deliverWithCrashes, type CrashPoint } from '../../../fixtures/crash-after-side-effect.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}, {name: dc2}]
authorities: [{name: ca, commonName: shop ca, key: ECDSA-P256, secret: {name: shop-ca, namespace: shop}}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}, consumers: [Deployment/web]}
  - {name: api, issuer: ca, usage: client, commonName: api, secret: {name: api-tls, namespace: shop}}
`;
const STEPS = Object.values(AuthorityStep);

let root: string;
let inventory: Inventory;
let rt: TestRuntime;

beforeEach(async () => {
  root = await makeTempDir('rekey-ca-faults-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
  await apply(rt.deps, inventory);
});
afterEach(() => removeTempDir(root));

const crashes: Array<{ name: string; dies: CrashPoint }> = [
  ...STEPS.map((step) => ({
    name: `after ${step} did its work, before the journal recorded it`,
    dies: { journal: (r: RotationRecord) => r.history.at(-1)?.step === step && r.history.at(-1)?.status !== 'waiting' },
  })),
  ...STEPS.slice(1).map((step) => ({ name: `before ${step} was queued`, dies: { enqueue: (m: StepMessage) => m.step === step } })),
  { name: 'right after the CA was promoted', dies: { promote: (n: string) => n === 'rekey/shop/ca' } },
  { name: 'right after the first child was promoted', dies: { promote: (n: string) => n === 'rekey/shop/web' } },
];

describe('authority rotation under worker crashes and duplicate deliveries', () => {
  it.each(crashes)('completes exactly once when the worker dies $name', async ({ dies }) => {
    // Prepare
    const f = crashAfterSideEffect(rt.deps, dies);
    const before = (await rt.store.getVersion('rekey/shop/ca'))!.versionId;
    const web = (await rt.store.getVersion('rekey/shop/web'))!.versionId;
    const record = await startRotation(f.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'faults' });
    // Act
    const { deaths, duplicates } = await deliverWithCrashes(f.deps, inventory, f.messages);
    // Assess
    expect(deaths).toBe(1);
    expect(duplicates.every((d) => d === StepExecution.Stale || d === StepExecution.Finished)).toBe(true);
    const final = (await rt.journal.get(record.id))!;
    expect(
      final.status,
      `${final.error} at ${final.step} ${JSON.stringify(final.history.map((h) => h.step + ':' + h.status))} deaths ${deaths}`,
    ).toBe(RotationStatus.Completed);
    expect(final.history.map((h) => h.step).filter((s, i, all) => all.indexOf(s) === i)).toEqual(STEPS);
    const ca = (await rt.store.describe('rekey/shop/ca'))!.versions;
    expect(ca.map((v) => v.versionId)).toEqual([before, record.id, dropVersionId(record.id)]);
    expect(ca.find((v) => v.versionId === dropVersionId(record.id))!.stages).toEqual([Stage.Current]);
    const child = (await rt.store.describe('rekey/shop/web'))!.versions;
    expect(child.map((v) => v.versionId)).toEqual([web, record.id]);
    expect(child.map((v) => v.stages)).toEqual([[Stage.Previous], [Stage.Current]]);
  });
});
