import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { SigningKeyStep } from '../../shared/domain/rotation/machines.js';
import { RotationStatus, Trigger } from '../../shared/domain/rotation/record.js';
import { startAwsLambdaRunner, type AwsLambdaRunner } from '../fixtures/aws-lambda-runner.js';
import { loadInfraEnv } from '../infra/env.js';
import { Admin, deploymentObject, eventually, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';

/**
 * Seed 003 on the AWS path: a jwt-signing-key (with a token, a public key set Secret and an owner to pause) rotated
 * through the Lambda handlers on moto, its Secrets in the real dc1. The rotation is asked for with a RotationRequest
 * in dc1, picked up by the `schedule` function, and driven by the `step`, `delay` and `restart` functions to its end;
 * the request's status follows it without another scan.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const API = 'rekey.dev/v1alpha1';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const STEPS = Object.values(SigningKeyStep);

let admin: Admin;
let ns: string;
let aws: AwsLambdaRunner;

beforeAll(async () => {
  const kubeconfig = loadInfraEnv({ require: ['kube', 'moto'] }).kube.kubeconfig;
  admin = await Admin.of('dc1');
  const [crd] = loadAll(readFileSync(join(REPO, 'deploy/crds/rotationrequests.rekey.dev.yaml'), 'utf8')) as object[];
  await admin.apply(crd as never);
  ns = uniqueName('e2e-aws-jwt');
  await admin.createNamespace(ns);
  await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'api-owner' }, data: { owner: 'operator api' } } });
  for (const [name, secret] of [
    ['verifier', 'api-jwks'],
    ['signer', 'api-jwt-key'],
    ['client', 'api-jwt'],
  ] as const)
    await admin.apply(deploymentObject(ns, name, { 'app.kubernetes.io/part-of': 'jwt' }, podSpec({ volume: secret })));
  for (const name of ['verifier', 'signer', 'client']) await rolledOut(admin, ns, name);
  await eventually('dc1: RotationRequest served', async () =>
    (await admin.objects.list(API, 'RotationRequest', ns).catch(() => undefined)) ? true : undefined,
  );

  aws = await startAwsLambdaRunner({
    name: 'e2e-jwt',
    require: ['kube'],
    kubeconfig,
    inventory: (prefix) =>
      loadInventory(
        `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${prefix}}
clusters: [{name: dc1, context: dc1}]
credentials:
  - name: api-key
    type: jwt-signing-key
    algorithm: ES256
    tokenLifetime: 20s
    propagation: 3s
    secret: {name: api-jwt-key, namespace: ${ns}}
    jwksSecret: api-jwks
    verifiers: [Deployment/verifier]
    consumers: [Deployment/signer]
    restart: {policy: together, within: 3m}
    pause:
      object: {apiVersion: v1, kind: ConfigMap, name: api-owner}
      patch: {metadata: {annotations: {rekey/paused: "true"}}}
      resume: {metadata: {annotations: {rekey/paused: null}}}
  - name: api-token
    type: jwt-token
    signingKey: api-key
    lifetime: 20s
    claims: {sub: operator, aud: rekey}
    secret: {name: api-jwt, namespace: ${ns}}
    consumers: [Deployment/client]
    restart: {policy: together, within: 3m}
`,
        'e2e-jwt.yaml',
      ),
  });
}, 300_000);

afterAll(async () => {
  await aws?.stop();
  await admin?.deleteNamespace(ns);
});

const data = async (name: string): Promise<Record<string, string>> => {
  const s = await admin.core.readNamespacedSecret({ name, namespace: ns });
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
};
const restartedAt = async (name: string) => (await admin.deployment(ns, name)).spec?.template.metadata?.annotations?.['rekey/restartedAt'];
const ownerPaused = async () =>
  (await admin.core.readNamespacedConfigMap({ name: 'api-owner', namespace: ns })).metadata?.annotations?.['rekey/paused'] === 'true';
const request = async (name: string) =>
  (await admin.objects.read({ apiVersion: API, kind: 'RotationRequest', metadata: { name, namespace: ns } })) as unknown as {
    metadata: { uid: string };
    status?: { phase?: string; message?: string; rotationId?: string };
  };

async function signatureVerifies(jwt: string, set: JSONWebKeySet): Promise<boolean> {
  try {
    await compactVerify(jwt, createLocalJWKSet(set));
    return true;
  } catch {
    return false;
  }
}

describe('jwt-signing-key rotation on the AWS path (moto + dc1)', () => {
  it('the schedule generates the key, its public key set Secret and the token in dc1', async () => {
    // Act
    const summary = await aws.schedule();
    // Assess
    expect(summary.rotations).toEqual([]);
    const jwks = JSON.parse((await data('api-jwks'))['jwks.json']!) as JSONWebKeySet;
    expect(Object.keys(await data('api-jwks'))).toEqual(['jwks.json']);
    expect(jwks.keys).toHaveLength(1);
    const token = (await data('api-jwt'))['token']!;
    expect(decodeProtectedHeader(token).kid).toBe((await data('api-jwt-key'))['kid']);
    expect(await signatureVerifies(token, jwks)).toBe(true);
    expect(aws.runner.errors).toEqual([]);
  });

  it('a RotationRequest picked up by the schedule rotates it through the step functions; its status follows the steps', async () => {
    // Prepare
    const oldKid = (await data('api-jwt-key'))['kid']!;
    const oldToken = (await data('api-jwt'))['token']!;
    const before = { verifier: await restartedAt('verifier'), signer: await restartedAt('signer'), client: await restartedAt('client') };
    const created = (await admin.objects.create({
      apiVersion: API,
      kind: 'RotationRequest',
      metadata: { name: 'rotate-api-key', namespace: ns },
      spec: { item: 'api-key', reason: 'e2e' },
    } as never)) as unknown as { metadata: { uid: string } };
    const phases: string[] = [];
    let pausedSeen = false;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const s = (await request('rotate-api-key').catch(() => undefined))?.status;
        const line = `${s?.phase ?? '-'} ${s?.message ?? ''}`;
        if (phases.at(-1) !== line) phases.push(line);
        pausedSeen ||= await ownerPaused().catch(() => false);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    // Act: one schedule picks the request up; the step, delay and restart functions do the rest.
    const summary = await aws.schedule();
    const done = await aws.waitForRotation(created.metadata.uid);
    await eventually(
      'request status Succeeded',
      async () => ((await request('rotate-api-key')).status?.phase === 'Succeeded' ? true : undefined),
      30_000,
    );
    watching = false;
    await watcher;

    // Assess: the rotation
    expect(summary.requests).toBe(1);
    expect(done.status, done.error).toBe(RotationStatus.Completed);
    expect(done.trigger).toBe(Trigger.Request);
    expect(done.history.map((h) => h.step).filter((s, i, all) => all.indexOf(s) === i)).toEqual(STEPS);
    const newKid = done.signingKey!.newKid!;
    expect(newKid).not.toBe(oldKid);
    // The status went Progressing through the steps, written by the step functions, then Succeeded.
    const progressing = phases.filter((p) => p.startsWith('Progressing'));
    expect(progressing.length).toBeGreaterThan(1);
    expect(progressing.some((p) => p.includes(`at step ${SigningKeyStep.KeepOld}`))).toBe(true);
    // No scan ran after the first: the step function that recorded the last step wrote it.
    const final = (await request('rotate-api-key')).status!;
    expect([final.phase, final.rotationId]).toEqual(['Succeeded', created.metadata.uid]);
    // The owner was paused during the rotation and is resumed.
    expect(pausedSeen).toBe(true);
    expect(await ownerPaused()).toBe(false);
    // dc1: the new key signs, only its public key is published (nothing private), the token is the new key's.
    expect((await data('api-jwt-key'))['kid']).toBe(newKid);
    const jwks = JSON.parse((await data('api-jwks'))['jwks.json']!) as JSONWebKeySet;
    expect(jwks.keys.map((k) => k.kid)).toEqual([newKid]);
    for (const key of jwks.keys) for (const m of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(m);
    const token = (await data('api-jwt'))['token']!;
    expect(decodeProtectedHeader(token).kid).toBe(newKid);
    expect(await signatureVerifies(token, jwks)).toBe(true);
    expect(await signatureVerifies(oldToken, jwks)).toBe(false);
    // Verifiers, signers and the token's consumer restarted.
    for (const name of ['verifier', 'signer', 'client'] as const) {
      expect(await restartedAt(name), name).toBeDefined();
      expect(await restartedAt(name), name).not.toBe(before[name]);
    }
    expect(aws.runner.errors).toEqual([]);
  }, 300_000);
});
