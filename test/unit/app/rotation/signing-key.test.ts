import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { cleanVersionId } from '../../../../shared/app/rotation/signing-key-steps.js';
import { executeStep, startRotation, StepExecution } from '../../../../shared/app/rotation/index.js';
import { scan } from '../../../../shared/app/scan.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { SigningKeyStep } from '../../../../shared/domain/rotation/machines.js';
import { RotationKind, RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { decodeMaterial, type SigningKeyMaterial } from '../../../../shared/domain/store/material.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import type { StepMessage } from '../../../../shared/ports/step-queue.js';
import { crashAfterSideEffect, deliverWithCrashes, harmlessDuplicate, type CrashPoint } from '../../../fixtures/crash-after-side-effect.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ops}
clusters: [{name: dc1}, {name: dc2}]
credentials:
  - {name: api-key, type: jwt-signing-key, algorithm: ES256, tokenLifetime: 1h, propagation: 30s,
     secret: {name: api-jwt-key, namespace: ops}}
  - {name: api-token, type: jwt-token, signingKey: api-key, lifetime: 1h,
     claims: {sub: operator, aud: rekey, scope: "metrics:read"}, secret: {name: api-jwt, namespace: ops}}
`;
const KEY = 'rekey/ops/api-key';
const TOKEN = 'rekey/ops/api-token';
const STEPS = Object.values(SigningKeyStep);
const HOUR = 3_600_000;

let root: string;
let inventory: Inventory;
let rt: TestRuntime;
let nowMs: number;

beforeEach(async () => {
  root = await makeTempDir('rekey-signing-key-');
  inventory = loadInventory(INVENTORY);
  nowMs = Date.parse('2026-06-01T00:00:00Z');
  rt = localRuntime(inventory, root, { now: () => new Date(nowMs) });
  await apply(rt.deps, inventory);
});
afterEach(() => removeTempDir(root));

async function secret(cluster: string, name: string): Promise<Record<string, string>> {
  const s = await rt.writers.get(cluster)!.getSecret('ops', name);
  if (!s) throw new Error(`no Secret ${cluster}/ops/${name}`);
  return { ...s.data };
}
const jwks = async (cluster = 'dc1'): Promise<JSONWebKeySet> =>
  JSON.parse((await secret(cluster, 'api-jwt-key'))['jwks.json']!) as JSONWebKeySet;
const token = async (cluster = 'dc1'): Promise<string> => (await secret(cluster, 'api-jwt'))['token']!;
const kids = async (cluster = 'dc1') => (await jwks(cluster)).keys.map((k) => k.kid);

/** Whether the signature of `jwt` verifies against the key set (expiry aside: the key set is what is under test). */
async function signatureVerifies(jwt: string, set: JSONWebKeySet): Promise<boolean> {
  try {
    await compactVerify(jwt, createLocalJWKSet(set));
    return true;
  } catch {
    return false;
  }
}

/** Runs queued steps (each delivered twice) with a fake clock: a waiting step's delay passes at once. */
async function runAll(deps: Deps, messages: StepMessage[], onStep?: (m: StepMessage) => Promise<void>): Promise<number> {
  const { deaths, duplicates } = await deliverWithCrashes(deps, inventory, messages, {
    onRun: async (m, result, duplicate) => {
      if (result === StepExecution.Waiting) nowMs += 10 * 60_000;
      if (!duplicate) await onStep?.(m);
    },
  });
  expect(duplicates.every(harmlessDuplicate)).toBe(true);
  return deaths;
}

const faulty = (dies: CrashPoint) => crashAfterSideEffect(rt.deps, dies);

describe('jwt-signing-key rotation: publish, wait, activate, keep the old key for tokenLifetime, remove it', () => {
  it('a token of the old key verifies during the overlap and not after remove-old; the new key verifies from activation; the minted token verifies against the published key set', async () => {
    // Prepare
    const f = faulty({});
    const oldToken = await token();
    const oldKid = decodeProtectedHeader(oldToken).kid;
    expect(await kids()).toEqual([oldKid]);
    await jwtVerify(oldToken, createLocalJWKSet(await jwks()), {
      audience: 'rekey',
      issuer: 'rekey/ops',
      subject: 'operator',
      currentDate: new Date(nowMs),
    });
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'test' });
    expect(record.kind).toBe(RotationKind.SigningKey);
    const seen: Record<string, { kids: (string | undefined)[]; activeKid: string; token: string; at: number }> = {};

    // Act
    await runAll(f.deps, f.messages, async (m) => {
      const r = (await rt.journal.get(m.rotationId))!;
      const done = r.history.filter((h) => h.status !== 'waiting').map((h) => h.step);
      if (done.includes(m.step) && !seen[m.step])
        seen[m.step] = {
          kids: await kids('dc2'),
          activeKid: (await secret('dc2', 'api-jwt-key'))['kid']!,
          token: await token('dc2'),
          at: nowMs,
        };
    });

    // Assess
    const final = (await rt.journal.get(record.id))!;
    expect(final.status, final.error).toBe(RotationStatus.Completed);
    expect(final.history.map((h) => h.step).filter((s, i, all) => all.indexOf(s) === i)).toEqual(STEPS);
    const newKid = final.signingKey!.newKid!;
    expect(newKid).not.toBe(oldKid);
    // Published before it signs: both keys in the set, the old one active, the old token still good.
    expect(seen[SigningKeyStep.PublishKeySet]!.kids).toEqual([oldKid, newKid]);
    expect(seen[SigningKeyStep.PublishKeySet]!.activeKid).toBe(oldKid);
    expect(seen[SigningKeyStep.AwaitVerifiers]!.at - Date.parse(final.signingKey!.publishedAt!)).toBeGreaterThanOrEqual(30_000);
    // Activated: the new key signs, the set still holds both.
    expect(seen[SigningKeyStep.Activate]!.activeKid).toBe(newKid);
    expect(seen[SigningKeyStep.Activate]!.kids.sort()).toEqual([oldKid, newKid].sort());
    // Re-minted with the new key; it verifies against the published set (claims included) from then on.
    const newToken = seen[SigningKeyStep.RemintTokens]!.token;
    expect(decodeProtectedHeader(newToken).kid).toBe(newKid);
    const set = { keys: JSON.parse((await secret('dc2', 'api-jwt-key'))['jwks.json']!).keys };
    const { payload } = await jwtVerify(newToken, createLocalJWKSet(set), {
      audience: 'rekey',
      issuer: 'rekey/ops',
      subject: 'operator',
      currentDate: new Date(seen[SigningKeyStep.RemintTokens]!.at),
    });
    expect(payload.scope).toBe('metrics:read');
    // Overlap: the old token's key stays until tokenLifetime after activation.
    expect(seen[SigningKeyStep.KeepOld]!.kids).toContain(oldKid);
    expect(seen[SigningKeyStep.KeepOld]!.at).toBeGreaterThanOrEqual(Date.parse(final.signingKey!.activatedAt!) + HOUR);
    // After remove-old: only the new key; the old token no longer verifies, the new one does.
    expect(await kids('dc1')).toEqual([newKid]);
    expect(await signatureVerifies(oldToken, await jwks('dc1'))).toBe(false);
    expect(await signatureVerifies(newToken, await jwks('dc1'))).toBe(true);
    const versions = (await rt.store.describe(KEY))!.versions;
    expect(versions.map((v) => v.versionId).slice(-2)).toEqual([record.id, cleanVersionId(record.id)]);
  });

  it('the old token verifies against every key set written between publish and keep-old', async () => {
    // Prepare
    const f = faulty({});
    const oldToken = await token();
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'test' });
    const results: { step: string; ok: boolean }[] = [];
    // Act
    await runAll(f.deps, f.messages, async (m) => {
      results.push({ step: m.step, ok: await signatureVerifies(oldToken, await jwks('dc1')) });
    });
    // Assess
    expect((await rt.journal.get(record.id))!.status).toBe(RotationStatus.Completed);
    const beforeRemoval = results.filter((r) => r.step !== SigningKeyStep.RemoveOld);
    expect(beforeRemoval.length).toBeGreaterThan(STEPS.length - 2);
    expect(beforeRemoval.every((r) => r.ok)).toBe(true);
    expect(results.filter((r) => r.step === SigningKeyStep.RemoveOld).every((r) => !r.ok)).toBe(true);
  });

  it('a failure before activation discards the new key and takes it out of the published key set', async () => {
    // Prepare
    const { failRotation } = await import('../../../../shared/app/rotation/fail.js');
    const f = faulty({});
    const oldKid = (await kids())[0];
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'test' });
    for (let i = 0; i < STEPS.indexOf(SigningKeyStep.AwaitVerifiers); i++) await executeStep(f.deps, inventory, f.messages.shift()!);
    expect((await kids()).length).toBe(2);
    // Act
    await failRotation(f.deps, inventory, record.id, new Error('verifiers did not come up'));
    // Assess
    expect(await kids()).toEqual([oldKid]);
    expect(await rt.store.getVersion(KEY, { stage: Stage.Pending })).toBeUndefined();
    expect((await rt.journal.get(record.id))!.status).toBe(RotationStatus.Failed);
  });
});

const crashes: Array<{ name: string; dies: CrashPoint }> = [
  ...STEPS.map((step) => ({
    name: `after ${step} did its work, before the journal recorded it`,
    dies: { journal: (r: RotationRecord) => r.history.at(-1)?.step === step && r.history.at(-1)?.status !== 'waiting' },
  })),
  ...STEPS.slice(1).map((step) => ({ name: `before ${step} was queued`, dies: { enqueue: (m: StepMessage) => m.step === step } })),
  { name: 'right after the new key was stored pending', dies: { putPending: (n: string) => n === KEY } },
  { name: 'right after the new key was activated', dies: { promote: (n: string, v: string) => n === KEY && !v.endsWith('-clean') } },
  { name: 'right after the token was minted pending', dies: { putPending: (n: string) => n === TOKEN } },
  { name: 'right after the token was promoted', dies: { promote: (n: string) => n === TOKEN } },
  {
    name: 'right after the key set without the old key was promoted',
    dies: { promote: (n: string, v: string) => n === KEY && v.endsWith('-clean') },
  },
];

describe('jwt-signing-key rotation under worker crashes and duplicate deliveries', () => {
  it.each(crashes)('completes exactly once when the worker dies $name', async ({ dies }) => {
    // Prepare
    const f = faulty(dies);
    const key0 = (await rt.store.getVersion(KEY))!.versionId;
    const token0 = (await rt.store.getVersion(TOKEN))!.versionId;
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'faults' });
    // Act
    const deaths = await runAll(f.deps, f.messages);
    // Assess
    expect(deaths).toBe(1);
    const final = (await rt.journal.get(record.id))!;
    expect(final.status, `${final.error} at ${final.step}`).toBe(RotationStatus.Completed);
    expect(final.history.map((h) => h.step).filter((s, i, all) => all.indexOf(s) === i)).toEqual(STEPS);
    const key = (await rt.store.describe(KEY))!.versions;
    expect(key.map((v) => v.versionId)).toEqual([key0, record.id, cleanVersionId(record.id)]);
    expect(key.map((v) => v.stages)).toEqual([[], [Stage.Previous], [Stage.Current]]);
    const tok = (await rt.store.describe(TOKEN))!.versions;
    expect(tok.map((v) => v.versionId)).toEqual([token0, record.id]);
    // The one new key signs, alone in the set, in both clusters; the token is the new key's.
    const current = decodeMaterial((await rt.store.getVersion(KEY))!.value, KEY) as SigningKeyMaterial;
    for (const c of ['dc1', 'dc2']) {
      expect(await kids(c)).toEqual([current.kid]);
      expect(decodeProtectedHeader(await token(c)).kid).toBe(current.kid);
      expect(await signatureVerifies(await token(c), await jwks(c))).toBe(true);
    }
  });
});

describe('signing keys and tokens in apply and scan', () => {
  it('apply starts an overlap rotation for a signing key whose spec changed (no hard cut), and leaves its token to it', async () => {
    // Prepare
    const changed = loadInventory(INVENTORY.replace('algorithm: ES256', 'algorithm: EdDSA'));
    const oldKid = (await kids())[0];
    // Act
    const result = await apply(rt.deps, changed);
    // Assess
    expect(result.rotations).toHaveLength(1);
    expect((await rt.journal.get(result.rotations[0]!))!.kind).toBe(RotationKind.SigningKey);
    expect(await kids()).toEqual([oldKid]);
    expect(decodeProtectedHeader(await token()).kid).toBe(oldKid);
  });

  it('a token is minted again before it expires (scan starts its rotation when a third of its lifetime is left)', async () => {
    // Prepare
    nowMs += 41 * 60_000;
    // Act
    const result = await scan(rt.deps, inventory);
    // Assess
    expect(result.started.map((s) => s.item)).toEqual(['api-token']);
  });

  it('no private key or token appears in the events, the journal or a rotation message', async () => {
    // Prepare
    const f = faulty({});
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'test' });
    await runAll(f.deps, f.messages);
    const secrets: string[] = [];
    for (const name of [KEY, TOKEN]) {
      for (const v of (await rt.store.describe(name))!.versions) {
        const m = decodeMaterial((await rt.store.getVersion(name, { versionId: v.versionId }))!.value, name);
        if (m.type === 'signing-key') secrets.push(String(m.jwk['d']));
        if (m.type === 'token') secrets.push(m.token, m.token.split('.')[2]!);
      }
    }
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    // Act
    const journalDir = join(rt.stateDir, 'journal');
    const texts = [await readFile(join(rt.stateDir, 'events.jsonl'), 'utf8'), JSON.stringify(await rt.journal.get(record.id))];
    for (const f2 of await readdir(journalDir, { recursive: true }))
      if (f2.endsWith('.json')) texts.push(await readFile(join(journalDir, f2), 'utf8').catch(() => ''));
    // Assess
    for (const text of texts) for (const s of secrets) expect(text.includes(s)).toBe(false);
  });
});

describe('jwt credentials in the inventory', () => {
  it.each([
    ['a token outliving the key overlap', INVENTORY.replace('lifetime: 1h,', 'lifetime: 2h,'), 'credentials[1].lifetime'],
    ['a token of an unknown key', INVENTORY.replace('signingKey: api-key', 'signingKey: nope'), 'credentials[1].signingKey'],
    ['claims on a signing key', INVENTORY.replace('algorithm: ES256,', 'algorithm: ES256, claims: {sub: x},'), 'credentials[0].claims'],
    ['verifiers on a token', INVENTORY.replace('lifetime: 1h,', 'lifetime: 1h, verifiers: [Deployment/x],'), 'credentials[1].verifiers'],
    ['a token without signingKey', INVENTORY.replace('signingKey: api-key, ', ''), 'credentials[1].signingKey'],
  ])('refuses %s, naming the field', (_name, text, path) => {
    expect(() => loadInventory(text)).toThrow(path);
  });
});
