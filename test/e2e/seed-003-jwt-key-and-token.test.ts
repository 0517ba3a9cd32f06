import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { Admin, deploymentObject, kubeconfigPath, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'cli/main.ts');

/** Whether the signature of `jwt` verifies against `set` (expiry aside: the key set is what is under test). */
async function signatureVerifies(jwt: string, set: JSONWebKeySet): Promise<boolean> {
  try {
    await compactVerify(jwt, createLocalJWKSet(set));
    return true;
  } catch {
    return false;
  }
}

describe('seed 003: the signing key generated into an empty Secret, a JWT minted from it into another, both rotated in dc1', () => {
  const ns = uniqueName('rekey-seed003-jwt');
  let dir: string;
  let kubeconfig: string;
  let inv: string;
  let state: string;
  let admin: Admin;
  const outputs: string[] = [];

  const rekey = async (args: readonly string[]) => {
    const r = await run(process.execPath, ['--import', 'tsx', CLI, '--state', state, ...args], { cwd: REPO, timeoutMs: 240_000 });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const secret = async (name: string) => {
    try {
      const s = await admin.core.readNamespacedSecret({ name, namespace: ns });
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    } catch {
      return undefined;
    }
  };
  const jwks = async () => JSON.parse((await secret('operator-api-jwt-key'))!['jwks.json']!) as JSONWebKeySet;
  const restartedAt = async () => (await admin.deployment(ns, 'api-gateway')).spec?.template.metadata?.annotations?.['rekey/restartedAt'];

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    admin = await Admin.of('dc1');
    await admin.createNamespace(ns);
    // Seed 003: the key Secret exists but is empty (made by an installer for the operator to fill).
    await admin.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'operator-api-jwt-key' }, type: 'Opaque' } });
    await admin.apply(deploymentObject(ns, 'api-gateway', {}, podSpec({ volume: 'operator-api-jwt-key' })));
    await rolledOut(admin, ns, 'api-gateway');
    dir = await makeTempDir('rekey-seed003-jwt-');
    state = join(dir, 'state');
    inv = join(dir, 'operator-api.yaml');
    await writeFile(
      inv,
      `apiVersion: rekey/v1
kind: Inventory
metadata: {name: operator-api}
clusters: [{name: dc1, context: dc1}]
credentials:
  - name: operator-api-key
    type: jwt-signing-key
    algorithm: ES256
    tokenLifetime: 6s
    propagation: 1s
    secret: {name: operator-api-jwt-key, namespace: ${ns}}
    verifiers: [Deployment/api-gateway]
  - name: operator-api-token
    type: jwt-token
    signingKey: operator-api-key
    claims: {sub: operator, aud: rekey, scope: "metrics:read"}
    secret: {name: operator-api-jwt, namespace: ${ns}}
  - {name: long-key, type: jwt-signing-key, tokenLifetime: 1h, secret: {name: long-jwt-key, namespace: ${ns}}}
`,
    );
  }, 300_000);
  afterAll(async () => {
    await admin?.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('apply fills the empty key Secret with a generated key and mints a token that verifies against the published key set', async () => {
    // Act
    const applied = await rekey(['apply', '-f', inv, '--kubeconfig', kubeconfig, '--json']);

    // Assess
    expect(applied.status, applied.stderr).toBe(0);
    const key = (await secret('operator-api-jwt-key'))!;
    const jwk = JSON.parse(key['signing-key.jwk']!) as { kid: string; d?: string };
    expect(jwk.d).toBeTruthy();
    expect(key['kid']).toBe(jwk.kid);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([jwk.kid]);
    const token = (await secret('operator-api-jwt'))!['token']!;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await jwks()), {
      audience: 'rekey',
      issuer: 'rekey/operator-api',
      subject: 'operator',
    });
    expect(protectedHeader.kid).toBe(jwk.kid);
    expect(payload.scope).toBe('metrics:read');
    expect(payload.exp! - payload.iat!).toBe(6);
  }, 300_000);

  it('rotate publishes the new key, restarts the verifier, activates, re-mints the token, keeps the old key tokenLifetime, then removes it', async () => {
    // Prepare
    const oldToken = (await secret('operator-api-jwt'))!['token']!;
    const oldKid = decodeProtectedHeader(oldToken).kid;
    const gatewayBefore = await restartedAt();

    // Act
    const rotated = await rekey(['rotate', 'operator-api-key', '-f', inv, '--kubeconfig', kubeconfig, '--json']);

    // Assess
    expect(rotated.status, rotated.stderr).toBe(0);
    const { rotation } = JSON.parse(rotated.stdout) as {
      rotation: {
        status: string;
        kind: string;
        history: { step: string; status: string }[];
        signingKey: { oldKid: string; newKid: string; activatedAt: string; retireAfter: string };
      };
    };
    expect(rotation.kind).toBe('signing-key');
    expect(rotation.status).toBe('completed');
    // No owner to pause in this inventory: pause and resume are recorded as skipped.
    expect(rotation.history.filter((h) => h.status !== 'waiting').map((h) => `${h.step}:${h.status}`)).toEqual([
      'pause:skipped',
      'issue:completed',
      'publish-key-set:completed',
      'await-verifiers:completed',
      'activate:completed',
      'remint-tokens:completed',
      'restart-signers:skipped',
      'resume:skipped',
      'keep-old:completed',
      'remove-old:completed',
    ]);
    expect(rotation.signingKey.oldKid).toBe(oldKid);
    expect(Date.parse(rotation.signingKey.retireAfter) - Date.parse(rotation.signingKey.activatedAt)).toBe(6000);
    expect(await restartedAt()).not.toBe(gatewayBefore);
    const newToken = (await secret('operator-api-jwt'))!['token']!;
    expect(decodeProtectedHeader(newToken).kid).toBe(rotation.signingKey.newKid);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([rotation.signingKey.newKid]);
    expect(await signatureVerifies(newToken, await jwks())).toBe(true);
    expect(await signatureVerifies(oldToken, await jwks())).toBe(false);
    expect((await secret('operator-api-jwt-key'))!['kid']).toBe(rotation.signingKey.newKid);
  }, 300_000);

  it('a rotation whose overlap outlasts the run is parked at keep-old (exit 0) and a later rotate resumes the same rotation instead of starting another', async () => {
    // Act
    const first = await rekey(['rotate', 'long-key', '-f', inv, '--kubeconfig', kubeconfig, '--json']);
    const second = await rekey(['rotate', 'long-key', '-f', inv, '--kubeconfig', kubeconfig, '--json']);

    // Assess
    expect(first.status, first.stderr).toBe(0);
    const a = (JSON.parse(first.stdout) as { rotation: { id: string; status: string; step: string } }).rotation;
    expect([a.status, a.step]).toEqual(['running', 'keep-old']);
    expect(second.status, second.stderr).toBe(0);
    const b = (JSON.parse(second.stdout) as { rotation: { id: string; status: string; step: string } }).rotation;
    expect([b.id, b.status, b.step]).toEqual([a.id, 'running', 'keep-old']);
    expect((await jwks()).keys.length).toBe(1);
    const long = JSON.parse((await secret('long-jwt-key'))!['jwks.json']!) as JSONWebKeySet;
    expect(long.keys.length).toBe(2);
  }, 300_000);

  it('no private key or token appears in anything rekey printed', async () => {
    // Prepare
    const key = JSON.parse((await secret('operator-api-jwt-key'))!['signing-key.jwk']!) as { d: string };
    const longKey = JSON.parse((await secret('long-jwt-key'))!['signing-key.jwk']!) as { d: string };
    const token = (await secret('operator-api-jwt'))!['token']!;
    const status = await rekey(['status', '-f', inv, '--json']);
    // Assess
    expect(outputs.length).toBeGreaterThanOrEqual(8);
    for (const text of outputs) {
      for (const s of [key.d, longKey.d, token, token.split('.')[2]!]) expect(text.includes(s)).toBe(false);
    }
    expect(status.status).toBe(0);
  }, 300_000);
});
