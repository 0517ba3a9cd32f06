// A change of an ACME CA's chain seen by `apply` (and shown by `plan`): pebble makes a new root and intermediate at
// every start, so this test runs a pebble of its own (test/fixtures/own-pebble.ts; the shared one other tests use is
// never restarted), applies, restarts its pebble, and applies again. The second apply starts the authority's
// trust-overlap rotation: every ca.crt holds the old and the new root until drop-old, the leaf is ordered again from
// the new pebble, then the old root is dropped.
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { X509Certificate } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { EXTERNAL_CHAIN_CHANGED } from '../../../shared/app/issuers/chain-watch.js';
import { plan } from '../../../shared/app/plan.js';
import { executeStep } from '../../../shared/app/rotation/index.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { splitPemChain } from '../../../shared/domain/pki/pem.js';
import { RotationKind, RotationStatus } from '../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../shared/domain/store/material.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import type { StepMessage } from '../../../shared/ports/step-queue.js';
import { mirrorZoneIntoChalltestsrv } from '../../fixtures/challtestsrv-mirror.js';
import { dataOf, readManifest } from '../../fixtures/manifests.js';
import { startOwnPebble, type OwnPebble } from '../../fixtures/own-pebble.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { loadInfraEnv } from '../../infra/env.js';
import { useMoto } from '../aws/moto.js';

const ZONE = `acme-chain-${Date.now().toString(36)}.test`;
let dir: string;
let pebble: OwnPebble;
let mirror: ReturnType<typeof mirrorZoneIntoChalltestsrv>;
let zoneId: string;

const inventoryText = () => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: acme-chain}
authorities:
  - name: public-ca
    commonName: pebble
    external:
      acme:
        directory: "${pebble.directory}"
        email: ops@${ZONE}
        solver: {dns01: {route53: {hostedZoneId: ${zoneId}}, propagationDelay: 1s}}
        roots: "${pebble.roots}"
certificates:
  - {name: web, issuer: public-ca, usage: server, commonName: web.${ZONE}, dnsNames: [web.${ZONE}], secret: {name: web-tls, namespace: apps}}
`;

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();

/** The ca.crt of web's Secret as apply and the rotation wrote it (the manifests under out/<cluster>/apps/). */
function webCaCrt(): string[] {
  const out = join(dir, 'out');
  const file = readdirSync(out, { recursive: true, encoding: 'utf8' }).find((f) => f.endsWith('web-tls.yaml'));
  return splitPemChain(dataOf(readManifest(join(out, file!)))['ca.crt']!).map(fingerprint);
}

beforeAll(async () => {
  await useMoto();
  const env = loadInfraEnv({ require: ['moto', 'pebble'] });
  process.env.REKEY_ACME_CA_FILE = env.pebble.caCert;
  dir = await makeTempDir('rekey-acme-chain-');
  pebble = await startOwnPebble(env, dir);
  const route53 = new Route53Client({ region: env.aws.region });
  const zone = await route53.send(new CreateHostedZoneCommand({ Name: ZONE, CallerReference: ZONE }));
  zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
  mirror = mirrorZoneIntoChalltestsrv(route53, zoneId, pebble.challtestsrvUrl);
}, 120_000);
afterAll(async () => {
  await mirror?.stop();
  await pebble?.stop();
  if (dir) await removeTempDir(dir);
});

describe('external authority: a changed ACME chain seen by apply (own pebble, restarted)', () => {
  it('plan shows and apply starts the trust-overlap rotation: old + new root in ca.crt until drop-old, the leaf ordered from the new pebble, then the new root alone', async () => {
    // Prepare: a first apply against this pebble (a process of its own, like `rekey apply`), then pebble restarts.
    const inv = loadInventory(inventoryText());
    const compose = () =>
      composeLocal(inv, { stateDir: join(dir, 'state'), target: { kind: 'out', dir: join(dir, 'out') }, log: silentLogger });
    const first = await compose();
    const firstApply = await apply(first.deps, inv).finally(first.close);
    expect(firstApply.problems).toEqual([]);
    expect(firstApply.chainChanges).toEqual([]);
    const before = webCaCrt();
    await pebble.restart();
    const rt = await compose();
    const read = async (name: string) =>
      decodeMaterial(
        (await rt.deps.store.getVersion(`rekey/acme-chain/${name}`, { stage: Stage.Current }))!.value,
        name,
      ) as CertificateMaterial;
    const oldCa = await read('public-ca');
    const oldWeb = await read('web');
    try {
      // Act: plan, apply, and the rotation's steps up to drop-old (held back to look at the overlap), then the rest.
      const planned = await plan(rt.deps, inv);
      const result = await apply(rt.deps, inv);
      let held: StepMessage | undefined;
      await rt.queue.drain(async (m) => {
        if (m.step === 'drop-old' && !held) held = m;
        else await executeStep(rt.deps, inv, m);
      });
      const overlap = { web: webCaCrt(), ca: await read('public-ca'), leaf: await read('web') };
      await executeStep(rt.deps, inv, held!);
      await rt.queue.drain((m) => executeStep(rt.deps, inv, m).then(() => undefined));
      const after = { web: webCaCrt(), ca: await read('public-ca'), leaf: await read('web') };
      const again = { plan: await plan(rt.deps, inv), apply: await apply(rt.deps, inv) };

      // Assess: seen by plan and apply, the rotation of the authority (not a replacement, not ignored).
      const rotate = planned.actions.find((a) => a.action === 'rotate');
      expect(rotate).toMatchObject({ kind: 'authority', name: 'public-ca', reason: expect.stringContaining(EXTERNAL_CHAIN_CHANGED) });
      expect(result.problems).toEqual([]);
      expect(result.chainChanges).toEqual([
        { authority: 'public-ca', reason: expect.stringContaining(EXTERNAL_CHAIN_CHANGED), rotationId: expect.any(String) },
      ]);
      const rotationId = result.chainChanges[0]!.rotationId;
      expect(result.rotations).toEqual([rotationId]);
      expect(result.decisions.map((d) => d.unit)).not.toContain('web');
      const record = (await rt.deps.journal.get(rotationId))!;
      expect(record.kind).toBe(RotationKind.Authority);
      expect(record.status, record.error).toBe(RotationStatus.Completed);
      expect(record.history.map((h) => h.step)).toEqual(expect.arrayContaining(['publish-bundle', 'reissue', 'drop-old']));
      // The overlap: ca.crt = old root + new root; the CA's version trusts the old one; the leaf is from the new pebble.
      const newRoot = fingerprint(overlap.ca.cert);
      expect(before).toEqual([oldCa.fingerprint]);
      expect(newRoot).not.toBe(oldCa.fingerprint);
      expect(overlap.web.sort()).toEqual([oldCa.fingerprint, newRoot].sort());
      expect(overlap.ca.trustAlso).toBe(oldCa.cert);
      expect(overlap.leaf.serial).not.toBe(oldWeb.serial);
      expect(overlap.leaf.issuerFingerprint).toBe(newRoot);
      // After drop-old: the new root alone.
      expect(after.web).toEqual([newRoot]);
      expect(after.ca.fingerprint).toBe(newRoot);
      expect(after.ca.trustAlso).toBeUndefined();
      expect(after.leaf.serial).toBe(overlap.leaf.serial);
      // Nothing more to do once the stored chain is the one served.
      expect(again.plan.actions.filter((a) => a.action === 'rotate')).toEqual([]);
      expect(again.apply.chainChanges).toEqual([]);
      expect(again.apply.rotations).toEqual([]);
    } finally {
      await rt.close();
    }
  }, 240_000);
});
