import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../../../shared/adapters/local/in-process-queue.js';
import { apply } from '../../../../shared/app/apply.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { recover } from '../../../../shared/app/recover.js';
import { handleRestartEvent, requestRestarts } from '../../../../shared/app/restart/index.js';
import { driveRotations, executeStep, startRotation, StepExecution } from '../../../../shared/app/rotation/index.js';
import { failRotation } from '../../../../shared/app/rotation/fail.js';
import { executeLeasedStep } from '../../../../shared/app/rotation/lease.js';
import { scan } from '../../../../shared/app/scan.js';
import { EventType } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { SigningKeyStep } from '../../../../shared/domain/rotation/machines.js';
import { RotationKind, RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import type { Cluster, WorkloadControl } from '../../../../shared/ports/cluster.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import type { StepMessage } from '../../../../shared/ports/step-queue.js';
import { crashAfterSideEffect, deliverWithCrashes, WorkerDied, type CrashPoint } from '../../../fixtures/crash-after-side-effect.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/**
 * `pause` on a jwt-signing-key and on a jwt-token (issue 11: "pause is honoured on every credential kind, and a
 * rotation that paused an owner always resumes it, even when it fails"), and the consumers of a token restarted when
 * its key's rotation mints it again. The embedded runtime with a fake cluster that records owner patches, Secret
 * writes and workload restarts in one timeline.
 */

const PAUSE = (kind: string, name: string) =>
  `{object: {apiVersion: example.dev/v1, kind: ${kind}, name: ${name}}, ` +
  `patch: {metadata: {annotations: {rekey/paused: "true"}}}, resume: {metadata: {annotations: {rekey/paused: null}}}}`;

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ops}
clusters: [{name: dc1}]
credentials:
  - {name: api-key, type: jwt-signing-key, algorithm: ES256, tokenLifetime: 1h, propagation: 30s,
     secret: {name: api-jwt-key, namespace: ops}, consumers: [Deployment/signer], restart: rolling,
     pause: ${PAUSE('OperatorApi', 'api')}}
  - {name: api-token, type: jwt-token, signingKey: api-key, lifetime: 1h, claims: {sub: operator, aud: rekey},
     secret: {name: api-jwt, namespace: ops}, consumers: [Deployment/client], restart: {policy: together, within: 5m},
     pause: ${PAUSE('ApiClient', 'client')}}
  - {name: quiet-token, type: jwt-token, signingKey: api-key, lifetime: 1h, claims: {sub: quiet},
     secret: {name: quiet-jwt, namespace: ops}, consumers: [Deployment/quiet], restart: none}
`;
const KEY = 'rekey/ops/api-key';
const TOKEN = 'rekey/ops/api-token';
const OWNERS = ['api', 'client'];
const STEPS = Object.values(SigningKeyStep);

let root: string;
let inventory: Inventory;
let rt: TestRuntime;
let nowMs: number;
/** Owner patches, Secret writes and restarts, in order. */
let timeline: string[];
let paused: Map<string, boolean>;
let deps: Deps;

beforeEach(async () => {
  root = await makeTempDir('rekey-signing-key-pause-');
  inventory = loadInventory(INVENTORY);
  nowMs = Date.parse('2026-06-01T00:00:00Z');
  rt = localRuntime(inventory, root, { now: () => new Date(nowMs) });
  timeline = [];
  paused = new Map();
  const workloads: WorkloadControl = {
    selectWorkloads: () => Promise.resolve([]),
    restart(ref) {
      timeline.push(`restart:${ref.kind}/${ref.name}`);
      return Promise.resolve('Updated');
    },
    rolloutStatus: () => Promise.resolve({ done: true, message: 'rolled out' }),
    findSecretUses: () => Promise.resolve([]),
    mergePatch(object, patch) {
      const annotations = (patch.metadata as { annotations: Record<string, string | null> }).annotations;
      const now = annotations['rekey/paused'] === 'true';
      paused.set(object.name, now);
      timeline.push(`${now ? 'pause' : 'resume'}:${object.name}`);
      return Promise.resolve();
    },
  };
  const clusters = new Map<string, Cluster>(
    [...rt.deps.clusters].map(([name, c]) => [
      name,
      {
        ...c,
        workloads,
        secrets: {
          listSecrets: (ns) => c.secrets.listSecrets(ns),
          getSecret: (ns, n) => c.secrets.getSecret(ns, n),
          writeSecret: (secret, options) => {
            timeline.push(`write:${secret.name}`);
            return c.secrets.writeSecret(secret, options);
          },
        },
      },
    ]),
  );
  // As the CLI wires a live cluster: restart requests go through the bus to the restart worker.
  const wired: Deps = { ...rt.deps, clusters, restarts: { request: (inv, record) => requestRestarts(wired, inv, record) } };
  rt.bus.subscribe((event) => handleRestartEvent(wired, inventory, event));
  deps = wired;
  const applied = await apply(deps, inventory);
  // The paused token's first version goes through its machine, as a database password's does.
  await driveRotations(deps, inventory, rt.queue);
  for (const id of applied.rotations) expect((await rt.journal.get(id))!.status).toBe(RotationStatus.Completed);
  timeline.length = 0;
});
afterEach(() => removeTempDir(root));

const isPaused = (owner: string) => paused.get(owner) === true;
const at = (entry: string) => timeline.indexOf(entry);

async function secretData(name: string): Promise<Record<string, string>> {
  const s = await rt.writers.get('dc1')!.getSecret('ops', name);
  if (!s) throw new Error(`no Secret ops/${name}`);
  return { ...s.data };
}

async function signatureVerifies(jwt: string, set: JSONWebKeySet): Promise<boolean> {
  try {
    await compactVerify(jwt, createLocalJWKSet(set));
    return true;
  } catch {
    return false;
  }
}

/** Delivers every queued step (each twice); a waiting step's delay passes at once on the fake clock. */
function runAll(d: Deps, messages: StepMessage[]) {
  return deliverWithCrashes(d, inventory, messages, {
    onRun: (_m, result) => {
      if (result === StepExecution.Waiting) nowMs += 10 * 60_000;
    },
  });
}

const completedSteps = (r: RotationRecord) => r.history.filter((h) => h.status !== 'waiting' && h.status !== 'failed').map((h) => h.step);

describe('jwt-signing-key rotation with pause: owners of the key and of its tokens', () => {
  it('pauses both owners before the key set changes, restarts signers and token consumers, resumes the owners before the overlap', async () => {
    // Prepare
    const f = crashAfterSideEffect(deps, {});
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'test' });
    let pausedAtKeepOld: boolean[] = [];

    // Act
    await deliverWithCrashes(f.deps, inventory, f.messages, {
      onRun: async (m, result) => {
        if (m.step === SigningKeyStep.KeepOld && pausedAtKeepOld.length === 0) pausedAtKeepOld = OWNERS.map(isPaused);
        if (result === StepExecution.Waiting) nowMs += 10 * 60_000;
        await Promise.resolve();
      },
    });

    // Assess
    const final = (await rt.journal.get(record.id))!;
    expect(final.status, final.error).toBe(RotationStatus.Completed);
    expect(completedSteps(final).filter((s, i, all) => all.indexOf(s) === i)).toEqual(STEPS);
    expect(final.history.find((h) => h.step === SigningKeyStep.Pause)!.status).toBe('completed');
    // Paused before the first Secret write of the rotation (the key set with both keys), resumed after the restarts.
    const firstWrite = timeline.findIndex((e) => e.startsWith('write:'));
    expect(at('pause:api')).toBeGreaterThanOrEqual(0);
    expect(at('pause:client')).toBeGreaterThanOrEqual(0);
    expect(Math.max(at('pause:api'), at('pause:client'))).toBeLessThan(firstWrite);
    // The token was minted again while its owner was paused; its consumer restarted with the signer, then both resumed.
    expect(at('write:api-jwt')).toBeGreaterThan(at('pause:client'));
    expect(at('restart:Deployment/client')).toBeGreaterThan(at('write:api-jwt'));
    expect(at('restart:Deployment/signer')).toBeGreaterThan(at('write:api-jwt'));
    expect(at('resume:client')).toBeGreaterThan(at('restart:Deployment/client'));
    expect(at('resume:api')).toBeGreaterThan(at('restart:Deployment/signer'));
    // Not paused for the overlap, and not at the end.
    expect(pausedAtKeepOld).toEqual([false, false]);
    expect(OWNERS.map(isPaused)).toEqual([false, false]);
    // restart: none on quiet-token: minted again, its consumer left alone.
    expect(at('write:quiet-jwt')).toBeGreaterThan(firstWrite);
    expect(timeline).not.toContain('restart:Deployment/quiet');
    expect(timeline.filter((e) => e === 'restart:Deployment/client')).toHaveLength(1);
    // The new token is the new key's and verifies against the key set the Secret publishes.
    const token = (await secretData('api-jwt'))['token']!;
    expect(decodeProtectedHeader(token).kid).toBe(final.signingKey!.newKid);
    expect(await signatureVerifies(token, JSON.parse((await secretData('api-jwt-key'))['jwks.json']!) as JSONWebKeySet)).toBe(true);
  });

  it('a failure before activation resumes every owner it paused and says so in RotationFailed', async () => {
    // Prepare
    const f = crashAfterSideEffect(deps, {});
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'test' });
    for (let i = 0; i < STEPS.indexOf(SigningKeyStep.AwaitVerifiers); i++) await executeStep(f.deps, inventory, f.messages.shift()!);
    expect(OWNERS.map(isPaused)).toEqual([true, true]);

    // Act
    await failRotation(f.deps, inventory, record.id, new Error('verifiers did not come up'));

    // Assess
    expect(OWNERS.map(isPaused)).toEqual([false, false]);
    const failed = rt.bus.published.find((e) => e.type === EventType.RotationFailed && e.detail.rotationId === record.id)!;
    expect(failed.detail.error).toContain('OperatorApi ops/api resumed in dc1');
    expect(failed.detail.error).toContain('ApiClient ops/client resumed in dc1');
    expect(await rt.store.getVersion(KEY, { stage: Stage.Pending })).toBeUndefined();
  });

  it('a failure after resume (in the overlap) leaves the owners resumed', async () => {
    // Prepare
    const f = crashAfterSideEffect(deps, {});
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'test' });
    for (let guard = 0; guard < 50 && (await rt.journal.get(record.id))!.step !== SigningKeyStep.KeepOld; guard++) {
      const result = await executeStep(f.deps, inventory, f.messages.shift()!);
      if (result === StepExecution.Waiting) nowMs += 10 * 60_000;
    }

    // Act
    await failRotation(f.deps, inventory, record.id, new Error('store unreachable'));

    // Assess
    expect(OWNERS.map(isPaused)).toEqual([false, false]);
    expect((await rt.journal.get(record.id))!.status).toBe(RotationStatus.Failed);
  });
});

/** Points where the worker dies while the owners are paused (and right after it resumed them). */
const crashes: { name: string; dies: CrashPoint; whilePaused: boolean }[] = [
  ...STEPS.slice(0, STEPS.indexOf(SigningKeyStep.Resume)).map((step) => ({
    name: `after ${step} did its work, before the journal recorded it`,
    dies: { journal: (r: RotationRecord) => r.history.at(-1)?.step === step && r.history.at(-1)?.status !== 'waiting' },
    whilePaused: true,
  })),
  { name: 'right after the new key was activated', dies: { promote: (n: string) => n === KEY }, whilePaused: true },
  { name: 'right after the paused token was minted pending', dies: { putPending: (n: string) => n === TOKEN }, whilePaused: true },
  { name: 'before resume was queued', dies: { enqueue: (m: StepMessage) => m.step === SigningKeyStep.Resume }, whilePaused: true },
  {
    name: 'after resume did its work, before the journal recorded it',
    dies: { journal: (r: RotationRecord) => r.history.at(-1)?.step === SigningKeyStep.Resume },
    whilePaused: false,
  },
];

describe('jwt-signing-key rotation with pause under worker crashes', () => {
  it.each(crashes)('the message delivered again finds the owners paused and resumes them: dies $name', async ({ dies, whilePaused }) => {
    // Prepare
    const f = crashAfterSideEffect(deps, dies);
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'crash' });
    let pausedWhenDied: boolean[] | undefined;
    const journalUpdate = f.deps.journal.update.bind(f.deps.journal);
    const watched: Deps = {
      ...f.deps,
      journal: {
        ...f.deps.journal,
        update: async (r) => {
          try {
            await journalUpdate(r);
          } catch (e) {
            if (e instanceof WorkerDied) pausedWhenDied = OWNERS.map(isPaused);
            throw e;
          }
        },
      },
    };

    // Act
    const { deaths } = await runAll(watched, f.messages);

    // Assess
    expect(deaths).toBe(1);
    if (pausedWhenDied) expect(pausedWhenDied).toEqual(whilePaused ? [true, true] : [false, false]);
    const final = (await rt.journal.get(record.id))!;
    expect(final.status, `${final.error} at ${final.step}`).toBe(RotationStatus.Completed);
    expect(completedSteps(final).filter((s, i, all) => all.indexOf(s) === i)).toEqual(STEPS);
    expect(OWNERS.map(isPaused)).toEqual([false, false]);
    // Resumed after the last pause, whatever was repeated.
    for (const owner of OWNERS) expect(timeline.lastIndexOf(`resume:${owner}`)).toBeGreaterThan(timeline.lastIndexOf(`pause:${owner}`));
    const tok = (await rt.store.describe(TOKEN))!.versions;
    expect(tok.filter((v) => v.versionId === record.id)).toHaveLength(1);
  });

  it('a process killed with the owners paused: recovery in a new process resumes the rotation, which resumes them', async () => {
    // Prepare: a queue whose waits move the same fake clock the steps read.
    const queue = new InProcessQueue(
      () => nowMs,
      async (ms) => {
        nowMs += ms;
        await Promise.resolve();
      },
    );
    const dying: Deps = { ...deps, queue };
    const dead = { owner: 'cli:test:1:dead', ttlMs: 60_000 };
    const record = await startRotation(dying, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'crash', lease: dead });
    // The first process runs the rotation up to activation, then dies (nothing it had queued survives).
    let died = false;
    await queue.drain(async (m) => {
      died ||= (await rt.journal.get(m.rotationId))!.step === SigningKeyStep.RemintTokens;
      if (!died) await executeLeasedStep(dying, inventory, m, dead);
    });
    expect((await rt.journal.get(record.id))!.step).toBe(SigningKeyStep.RemintTokens);
    expect(OWNERS.map(isPaused)).toEqual([true, true]);

    // Act
    const report = await recover(dying, inventory, { lease: { owner: 'cli:test:2:alive', ttlMs: 60_000 }, exclusive: true, queue });

    // Assess
    expect(report.entries.filter((e) => e.rotationId === record.id).map((e) => e.outcome)).toEqual([RotationStatus.Completed]);
    expect(OWNERS.map(isPaused)).toEqual([false, false]);
    const final = (await rt.journal.get(record.id))!;
    expect(completedSteps(final).filter((s, i, all) => all.indexOf(s) === i)).toEqual(STEPS);
  });
});

describe('a jwt-token with pause, minted again on its own', () => {
  it('the scan starts it when a third of its lifetime is left; its owner is paused around the new token and resumed', async () => {
    // Prepare
    nowMs += 41 * 60_000;
    const before = (await secretData('api-jwt'))['token']!;

    // Act
    const result = await scan(deps, inventory);
    await driveRotations(deps, inventory, rt.queue);

    // Assess
    const started = result.started.find((s) => s.item === 'api-token')!;
    const record = (await rt.journal.get(started.rotationId))!;
    expect(record.kind).toBe(RotationKind.Password);
    expect(record.status, record.error).toBe(RotationStatus.Completed);
    expect(at('pause:client')).toBeLessThan(at('write:api-jwt'));
    expect(at('restart:Deployment/client')).toBeGreaterThan(at('write:api-jwt'));
    expect(at('resume:client')).toBeGreaterThan(at('restart:Deployment/client'));
    expect(isPaused('client')).toBe(false);
    // The key's owner is not the token's: untouched.
    expect(timeline.some((e) => e.endsWith(':api'))).toBe(false);
    const after = (await secretData('api-jwt'))['token']!;
    expect(after).not.toBe(before);
    expect(await signatureVerifies(after, JSON.parse((await secretData('api-jwt-key'))['jwks.json']!) as JSONWebKeySet)).toBe(true);
  });

  it('a failed re-mint discards the pending token and resumes its owner', async () => {
    // Prepare
    const f = crashAfterSideEffect(deps, {});
    const record = await startRotation(f.deps, inventory, 'api-token', { trigger: Trigger.Manual, reason: 'test' });
    await executeStep(f.deps, inventory, f.messages.shift()!); // pause
    await executeStep(f.deps, inventory, f.messages.shift()!); // issue
    expect(isPaused('client')).toBe(true);
    expect(await rt.store.getVersion(TOKEN, { stage: Stage.Pending })).toBeDefined();

    // Act
    await failRotation(f.deps, inventory, record.id, new Error('cluster unreachable'));

    // Assess
    expect(isPaused('client')).toBe(false);
    expect(await rt.store.getVersion(TOKEN, { stage: Stage.Pending })).toBeUndefined();
    expect((await rt.journal.get(record.id))!.status).toBe(RotationStatus.Failed);
  });
});
