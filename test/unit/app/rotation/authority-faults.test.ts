import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { dropVersionId } from '../../../../shared/app/rotation/authority-steps.js';
import { executeStep, startRotation, StepExecution } from '../../../../shared/app/rotation/index.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { AuthorityStep } from '../../../../shared/domain/rotation/machines.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import type { Journal } from '../../../../shared/ports/journal.js';
import { Stage, type SecretStore } from '../../../../shared/ports/secret-store.js';
import type { StepMessage, StepQueue } from '../../../../shared/ports/step-queue.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/** The worker dies (a plain Error) once at a chosen point after a side effect; the message is delivered again. */
class WorkerDied extends Error {}

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

function faulty(dies: {
  journal?: (r: RotationRecord) => boolean;
  promote?: (name: string, versionId: string) => boolean;
  enqueue?: (m: StepMessage) => boolean;
}) {
  let fired = 0;
  const once = (hit: boolean) => (hit && fired === 0 ? (fired++, true) : false);
  const messages: StepMessage[] = [];
  const queue: StepQueue = {
    async enqueue(m) {
      if (once(dies.enqueue?.(m) ?? false)) throw new WorkerDied(`died before queuing ${m.step}`);
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
      if (once(dies.journal?.(r) ?? false)) throw new WorkerDied('died before recording');
      await rt.journal.update(r);
    },
  };
  const store: SecretStore = {
    describe: (n) => rt.store.describe(n),
    getVersion: (n, sel) => rt.store.getVersion(n, sel),
    putPending: (n, v, value, o) => rt.store.putPending(n, v, value, o),
    discardPending: (n, v) => rt.store.discardPending(n, v),
    async putCurrent(n, v, value, o) {
      const r = await rt.store.putCurrent(n, v, value, o);
      if (once(dies.promote?.(n, v) ?? false)) throw new WorkerDied('died right after promoting');
      return r;
    },
    rollback: (n) => rt.store.rollback(n),
    list: (p) => rt.store.list(p),
    async promote(n, v) {
      await rt.store.promote(n, v);
      if (once(dies.promote?.(n, v) ?? false)) throw new WorkerDied('died right after promoting');
    },
  };
  const deps: Deps = { ...rt.deps, queue, journal, store };
  return { deps, messages, fired: () => fired };
}

async function work(deps: Deps, messages: StepMessage[]): Promise<{ deaths: number; duplicates: StepExecution[] }> {
  let deaths = 0;
  const duplicates: StepExecution[] = [];
  // Every stale duplicate re-queues the current step (a lost message must not stall a rotation): copies pile up over ten steps.
  for (let guard = 0; messages.length && guard < 5000; guard++) {
    const m = messages.shift()!;
    try {
      await executeStep(deps, inventory, m);
    } catch (e) {
      if (!(e instanceof WorkerDied)) throw e;
      deaths++;
      messages.unshift(m);
      continue;
    }
    duplicates.push(await executeStep(deps, inventory, m));
  }
  return { deaths, duplicates };
}

const crashes = [
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
    const f = faulty(dies);
    const before = (await rt.store.getVersion('rekey/shop/ca'))!.versionId;
    const web = (await rt.store.getVersion('rekey/shop/web'))!.versionId;
    const record = await startRotation(f.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'faults' });
    // Act
    const { deaths, duplicates } = await work(f.deps, f.messages);
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
