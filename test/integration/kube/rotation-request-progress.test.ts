import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClusters } from '../../../shared/adapters/kube/index.js';
import { apply } from '../../../shared/app/apply.js';
import type { Deps } from '../../../shared/app/deps.js';
import { reportRequestProgress } from '../../../shared/app/requests.js';
import { executeStep, failRotation, StepExecution } from '../../../shared/app/rotation/index.js';
import { scan } from '../../../shared/app/scan.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import type { StepMessage } from '../../../shared/ports/step-queue.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, eventually, kubeconfigPath, uniqueName } from './support.js';

/**
 * On dc1: a rotation started by a RotationRequest writes the request's status back as it progresses (the Lambda step
 * workers' `rotationRecorded`), Progressing at each step, then Succeeded or Failed, with no scan in between.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const API = 'rekey.dev/v1alpha1';

interface RequestObject {
  metadata: { name: string; namespace: string; uid: string };
  status?: {
    phase?: string;
    rotationId?: string;
    message?: string;
    completionTime?: string;
    conditions?: { type: string; status: string }[];
  };
}

const ns = uniqueName('rekey-reqprog');
let admin: Admin;
let dir: string;
let inventory: Inventory;
let rt: TestRuntime;
let deps: Deps;
let messages: StepMessage[];
let nowMs = Date.now();
const warnings: string[] = [];

beforeAll(async () => {
  admin = await Admin.of('dc1');
  const [crd] = loadAll(readFileSync(join(REPO, 'deploy/crds/rotationrequests.rekey.dev.yaml'), 'utf8')) as object[];
  await admin.apply(crd as never);
  await eventually('dc1: RotationRequest served', async () =>
    (await admin.objects.list(API, 'RotationRequest', 'default').catch(() => undefined)) ? true : undefined,
  );
  await admin.createNamespace(ns);
  dir = await makeTempDir('rekey-reqprog-');
  inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: reqprog}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: ca, commonName: reqprog ca, key: ECDSA-P256}]
credentials:
  - {name: api-key, type: jwt-signing-key, algorithm: ES256, tokenLifetime: 1m, secret: {name: api-jwt-key, namespace: ${ns}}}
  - {name: app-pw, type: password, secret: {name: app-pw, namespace: ${ns}}}
`);
  rt = localRuntime(inventory, dir, { now: () => new Date(nowMs) });
  const clusters = await connectClusters(inventory.clusters, { kubeconfig: await kubeconfigPath(), log: silentLogger });
  messages = [];
  // As the Lambda runtime wires it: every recorded step tells the request.
  const wired: Deps = {
    ...rt.deps,
    clusters,
    queue: { enqueue: (m) => Promise.resolve(void messages.push(m)) },
    rotationRecorded: (record) => reportRequestProgress(wired, record),
    log: { ...silentLogger, warn: (message, fields) => void warnings.push(`${message} ${JSON.stringify(fields ?? {})}`) },
  };
  deps = wired;
  await apply(deps, inventory);
  messages.length = 0;
}, 120_000);
afterAll(async () => {
  await admin.deleteNamespace(ns);
  await removeTempDir(dir);
});

async function createRequest(name: string, item: string): Promise<RequestObject> {
  const body = { apiVersion: API, kind: 'RotationRequest', metadata: { name, namespace: ns }, spec: { item } };
  return await admin.objects.create(body as never);
}
const read = async (name: string) =>
  (await admin.objects.read({ apiVersion: API, kind: 'RotationRequest', metadata: { name, namespace: ns } })) as unknown as RequestObject;

describe('RotationRequest status follows its rotation step by step (dc1)', () => {
  it('Progressing with each step, then Succeeded, written by the steps themselves (one scan only, to start it)', async () => {
    // Prepare
    const created = await createRequest('rotate-key', 'api-key');
    const started = await scan(deps, inventory);
    expect(started.requests.map((r) => [r.name, r.started])).toEqual([['rotate-key', true]]);
    const seen: string[] = [];

    // Act: the step workers run the queued steps; nobody scans.
    for (let guard = 0; messages.length && guard < 100; guard++) {
      const m = messages.shift()!;
      // A waiting step (propagation, the key's overlap) is queued with a delay: it passes at once on the test's clock.
      if ((await executeStep(deps, inventory, m)) === StepExecution.Waiting) nowMs += 30_000;
      const status = (await read('rotate-key')).status;
      seen.push(`${status?.phase ?? '-'}: ${status?.message ?? ''}`);
    }

    // Assess
    const record = (await rt.journal.get(created.metadata.uid))!;
    expect(record.trigger).toBe(Trigger.Request);
    expect(record.request).toEqual({ cluster: 'dc1', namespace: ns, name: 'rotate-key' });
    expect(record.status, record.error).toBe(RotationStatus.Completed);
    const progressing = seen.filter((s) => s.startsWith('Progressing'));
    expect(progressing.some((s) => s.includes('at step publish-key-set'))).toBe(true);
    expect(progressing.some((s) => s.includes('at step keep-old'))).toBe(true);
    const final = (await read('rotate-key')).status!;
    expect(final.phase).toBe('Succeeded');
    expect(final.rotationId).toBe(created.metadata.uid);
    expect(final.completionTime).toBeTruthy();
    expect(final.conditions?.find((c) => c.type === 'Succeeded')?.status).toBe('True');
  }, 180_000);

  it('Failed as soon as the rotation fails, with the reason', async () => {
    // Prepare
    await createRequest('rotate-pw', 'app-pw');
    await scan(deps, inventory);
    const m = messages.shift()!;
    expect((await read('rotate-pw')).status?.phase).toBe('Progressing');
    messages.length = 0;

    // Act
    await failRotation(deps, inventory, m.rotationId, new Error('asked to stop'));

    // Assess
    const status = (await read('rotate-pw')).status!;
    expect(warnings).toEqual([]);
    expect(status.phase).toBe('Failed');
    expect(status.message).toContain('asked to stop');
    expect(status.conditions?.find((c) => c.type === 'Failed')?.status).toBe('True');
  }, 120_000);
});
