import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../shared/app/apply.js';
import { startRotation, StepExecution } from '../../../shared/app/rotation/index.js';
import { scan } from '../../../shared/app/scan.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { decodeMaterial, type SigningKeyMaterial } from '../../../shared/domain/store/material.js';
import { Annotation, publicKeySet } from '../../../shared/domain/sync/desired.js';
import { crashAfterSideEffect, deliverWithCrashes } from '../../fixtures/crash-after-side-effect.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

/**
 * A signing key's `jwksSecret`: a second Secret that holds only `jwks.json`, the public key set, for verifiers to mount
 * instead of the Secret with the private key. It follows the key set through a rotation and never holds a private JWK
 * member.
 */

const inventoryText = (algorithm: string, extra = '') => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ops}
clusters: [{name: dc1}, {name: dc2}]
credentials:
  - {name: api-key, type: jwt-signing-key, algorithm: ${algorithm}, tokenLifetime: 1h, propagation: 30s,
     secret: {name: api-jwt-key, namespace: ops}, jwksSecret: api-jwks${extra}}
  - {name: api-token, type: jwt-token, signingKey: api-key, lifetime: 1h, claims: {sub: operator, aud: rekey},
     secret: {name: api-jwt, namespace: ops}}
`;
const KEY = 'rekey/ops/api-key';
/** RFC 7518 section 6: what makes a JWK private. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

let root: string;
let inventory: Inventory;
let rt: TestRuntime;
let nowMs: number;

async function setUp(algorithm: string): Promise<void> {
  inventory = loadInventory(inventoryText(algorithm));
  rt = localRuntime(inventory, root, { now: () => new Date(nowMs) });
  await apply(rt.deps, inventory);
}

beforeEach(async () => {
  root = await makeTempDir('rekey-jwks-secret-');
  nowMs = Date.parse('2026-06-01T00:00:00Z');
});
afterEach(() => removeTempDir(root));

async function secret(cluster: string, name: string) {
  const s = await rt.writers.get(cluster)!.getSecret('ops', name);
  if (!s) throw new Error(`no Secret ${cluster}/ops/${name}`);
  return s;
}

/** Every private value the store holds for the key (each version's private JWK members). */
async function privateValues(): Promise<string[]> {
  const values: string[] = [];
  for (const v of (await rt.store.describe(KEY))!.versions) {
    const m = decodeMaterial((await rt.store.getVersion(KEY, { versionId: v.versionId }))!.value, KEY) as SigningKeyMaterial;
    for (const member of PRIVATE_MEMBERS) if (typeof m.jwk[member] === 'string') values.push(m.jwk[member]);
  }
  return values;
}

/** The public Secret holds only jwks.json, no key has a private member, and no private value appears anywhere in it. */
async function expectPublicOnly(cluster: string): Promise<JSONWebKeySet> {
  const s = await secret(cluster, 'api-jwks');
  expect(Object.keys(s.data)).toEqual(['jwks.json']);
  const set = JSON.parse(s.data['jwks.json']!) as JSONWebKeySet;
  expect(set.keys.length).toBeGreaterThan(0);
  for (const key of set.keys) for (const member of PRIVATE_MEMBERS) expect(key, `member ${member}`).not.toHaveProperty(member);
  const text = JSON.stringify(s);
  for (const value of await privateValues()) expect(text.includes(value)).toBe(false);
  return set;
}

describe('jwksSecret: the public key set in a Secret of its own', () => {
  it.each(['ES256', 'ES384', 'EdDSA', 'RS256'])(
    '%s: apply writes it in every cluster with only jwks.json, the same key set as the signing Secret, and a token verifies against it',
    async (algorithm) => {
      // Prepare
      await setUp(algorithm);
      // Act
      const sets = [await expectPublicOnly('dc1'), await expectPublicOnly('dc2')];
      // Assess
      for (const [i, cluster] of ['dc1', 'dc2'].entries()) {
        expect(sets[i]).toEqual(JSON.parse((await secret(cluster, 'api-jwt-key')).data['jwks.json']!));
        const s = await secret(cluster, 'api-jwks');
        expect(s.labels['app.kubernetes.io/managed-by']).toBe('rekey');
        expect(s.annotations[Annotation.Item]).toBe('api-key');
      }
      const token = (await secret('dc1', 'api-jwt')).data['token']!;
      const { payload } = await jwtVerify(token, createLocalJWKSet(sets[0]!), { audience: 'rekey', currentDate: new Date(nowMs) });
      expect(payload.sub).toBe('operator');
    },
  );

  it('follows the key set through a rotation (both keys in the overlap, the new one alone after remove-old), public only at every step', async () => {
    // Prepare
    await setUp('ES256');
    const f = crashAfterSideEffect(rt.deps, {});
    const record = await startRotation(f.deps, inventory, 'api-key', { trigger: Trigger.Manual, reason: 'test' });
    const counts: number[] = [];

    // Act
    await deliverWithCrashes(f.deps, inventory, f.messages, {
      onRun: async (_m, result, duplicate) => {
        if (result === StepExecution.Waiting) nowMs += 10 * 60_000;
        if (duplicate) return;
        const set = await expectPublicOnly('dc2');
        expect(set).toEqual(JSON.parse((await secret('dc2', 'api-jwt-key')).data['jwks.json']!));
        counts.push(set.keys.length);
      },
    });

    // Assess
    const final = (await rt.journal.get(record.id))!;
    expect(final.status, final.error).toBe(RotationStatus.Completed);
    expect(counts).toContain(2);
    expect(counts.at(-1)).toBe(1);
    const set = await expectPublicOnly('dc1');
    expect(set.keys.map((k) => k.kid)).toEqual([final.signingKey!.newKid]);
  });

  it('the scan reports an edited public Secret as drift, and --repair writes it back', async () => {
    // Prepare
    await setUp('ES256');
    const writer = rt.writers.get('dc1')!;
    const s = await secret('dc1', 'api-jwks');
    await writer.writeSecret(
      {
        name: s.name,
        namespace: 'ops',
        type: 'Opaque',
        labels: s.labels,
        annotations: s.annotations,
        data: { 'jwks.json': '{"keys":[]}' },
      },
      { adopt: true, expected: s },
    );
    // Act
    const seen = await scan(rt.deps, inventory);
    const repaired = await scan(rt.deps, inventory, { repair: true });
    // Assess
    expect(seen.drift.map((d) => `${d.cluster}/${d.secret}`)).toEqual(['dc1/api-jwks']);
    expect(repaired.drift.map((d) => `${d.cluster}/${d.secret}`)).toEqual(['dc1/api-jwks']);
    expect((await expectPublicOnly('dc1')).keys).toHaveLength(1);
    expect((await scan(rt.deps, inventory)).drift).toEqual([]);
  });
});

describe('publicKeySet', () => {
  it('drops every private member of every key, whatever the stored set holds', () => {
    const keys = [
      { kty: 'RSA', kid: 'r', n: 'n', e: 'AQAB', d: 'D', p: 'P', q: 'Q', dp: 'DP', dq: 'DQ', qi: 'QI', oth: [] },
      { kty: 'EC', kid: 'e', crv: 'P-256', x: 'X', y: 'Y', d: 'D2' },
      { kty: 'oct', kid: 'o', k: 'K' },
    ];
    const set = JSON.parse(publicKeySet(keys)) as { keys: Record<string, unknown>[] };
    expect(set.keys).toEqual([
      { kty: 'RSA', kid: 'r', n: 'n', e: 'AQAB' },
      { kty: 'EC', kid: 'e', crv: 'P-256', x: 'X', y: 'Y' },
      { kty: 'oct', kid: 'o' },
    ]);
  });
});

describe('jwksSecret in the inventory', () => {
  it.each([
    ['on a token', inventoryText('ES256').replace('lifetime: 1h,', 'lifetime: 1h, jwksSecret: t-jwks,'), 'credentials[1].jwksSecret'],
    [
      'named like the key Secret',
      inventoryText('ES256').replace('jwksSecret: api-jwks', 'jwksSecret: api-jwt-key'),
      'credentials[0].secret',
    ],
    [
      'without a secret',
      inventoryText('ES256').replace('secret: {name: api-jwt-key, namespace: ops}, ', 'files: {dir: /k, cert: k.json}, '),
      'credentials[0].jwksSecret',
    ],
    ['not a Kubernetes name', inventoryText('ES256').replace('jwksSecret: api-jwks', 'jwksSecret: Api_JWKS'), 'credentials[0].jwksSecret'],
  ])('refuses it %s, naming the field', (_name, text, path) => {
    expect(() => loadInventory(text)).toThrow(path);
  });
});
