// An external authority on ACME: Let's Encrypt's pebble (built from source by test/infra/components/pebble.sh), with
// a real dns-01 validation. rekey writes the TXT record into Route 53 (moto); moto serves no DNS, so this test
// mirrors the hosted zone's TXT records into pebble-challtestsrv, the DNS server pebble asks.
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { enrol, renewEnrolment, RenewalRefusedError } from '../../../shared/app/enrol.js';
import { enrolmentCrl, enrolProfile, revokeEnrolled } from '../../../shared/app/enrol-revocation.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../shared/domain/store/material.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { mirrorZoneIntoChalltestsrv } from '../../fixtures/challtestsrv-mirror.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { loadInfraEnv, type InfraEnv } from '../../infra/env.js';
import { useMoto } from '../aws/moto.js';

const ZONE = `acme-${Date.now().toString(36)}.test`;
let env: InfraEnv;
let dir: string;
let zoneId: string;
let route53: Route53Client;
let mirror: ReturnType<typeof mirrorZoneIntoChalltestsrv>;

const inventoryText = (name: string, dnsName: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${name}}
authorities:
  - name: public-ca
    commonName: pebble
    external:
      acme:
        directory: "${env.pebble.directory}"
        email: ops@${ZONE}
        solver: {dns01: {route53: {hostedZoneId: ${zoneId}}, propagationDelay: 1s}}
        roots: "${env.pebble.roots}"
certificates:
  - name: web
    issuer: public-ca
    usage: server
    commonName: ${dnsName}
    dnsNames: [${dnsName}]
    secret: {name: web-tls, namespace: apps}
`;

beforeAll(async () => {
  await useMoto();
  env = loadInfraEnv({ require: ['moto', 'pebble'] });
  process.env.REKEY_ACME_CA_FILE = env.pebble.caCert;
  dir = await makeTempDir('rekey-acme-');
  route53 = new Route53Client({ region: env.aws.region });
  const zone = await route53.send(new CreateHostedZoneCommand({ Name: ZONE, CallerReference: ZONE }));
  zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
  mirror = mirrorZoneIntoChalltestsrv(route53, zoneId, env.pebble.challtestsrvUrl);
});
afterAll(async () => {
  await mirror?.stop();
  if (dir) await removeTempDir(dir);
});

async function stored(
  rt: Awaited<ReturnType<typeof composeLocal>>,
  inventory: string,
  name: string,
): Promise<CertificateMaterial | undefined> {
  const v = await rt.deps.store.getVersion(`rekey/${inventory}/${name}`, { stage: Stage.Current });
  return v && (decodeMaterial(v.value, name) as CertificateMaterial);
}

describe('external authority: ACME on pebble (dns-01 through Route 53)', () => {
  it("apply orders the certificate with rekey's CSR after a real dns-01 validation; it verifies under pebble's root; rotate orders a new one", async () => {
    // Prepare
    const inv = loadInventory(inventoryText('acme-it', `web.${ZONE}`));
    const rt = await composeLocal(inv, { stateDir: join(dir, 'state'), target: { kind: 'out', dir: join(dir, 'out') }, log: silentLogger });
    try {
      // Act
      const result = await apply(rt.deps, inv);
      const first = await stored(rt, 'acme-it', 'web');
      const record = await startRotation(rt.deps, inv, 'web', { trigger: Trigger.Manual, reason: 'integration test' });
      await driveRotations(rt.deps, inv, rt.queue);
      // Assess
      expect(result.problems).toEqual([]);
      const leaf = new X509Certificate(first!.cert);
      expect(leaf.subjectAltName).toBe(`DNS:web.${ZONE}`);
      expect(first!.chain).toContain('BEGIN CERTIFICATE');
      writeFileSync(join(dir, 'root.pem'), first!.ca);
      writeFileSync(join(dir, 'chain.pem'), first!.chain);
      writeFileSync(join(dir, 'leaf.pem'), first!.cert);
      expect(
        execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'chain.pem'), join(dir, 'leaf.pem')], {
          encoding: 'utf8',
        }),
      ).toContain('OK');
      expect([...mirror.mirrored].some((k) => k.startsWith(`_acme-challenge.web.${ZONE}`))).toBe(true);
      const final = (await rt.deps.journal.get(record.id))!;
      expect(final.status, final.error).toBe(RotationStatus.Completed);
      const second = await stored(rt, 'acme-it', 'web');
      expect(second!.serial).not.toBe(first!.serial);
      expect(second!.key).not.toBe(first!.key);
    } finally {
      await rt.close();
    }
  });

  it("a name the CA refuses (pebble's blocklist) fails the apply as denied, naming the CA, and stores no version", async () => {
    // Prepare
    const inv = loadInventory(inventoryText('acme-denied', 'blocked-domain.example'));
    const rt = await composeLocal(inv, {
      stateDir: join(dir, 'state-denied'),
      target: { kind: 'out', dir: join(dir, 'out-denied') },
      log: silentLogger,
    });
    try {
      // Act
      const error = await apply(rt.deps, inv).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      // Assess
      expect(error?.message).toMatch(/ACME order \(authority public-ca, https:\/\/127\.0\.0\.1:\d+\/dir\): denied/);
      expect(error?.message).toContain('blocked-domain.example');
      expect(await rt.deps.store.describe('rekey/acme-denied/web')).toBeUndefined();
    } finally {
      await rt.close();
    }
  });

  it('an ACME server that does not answer fails the apply as unreachable after retries with backoff, and stores no version', async () => {
    // Prepare: the authority's version exists (roots read), then the directory moves to a port nobody listens on
    const text = inventoryText('acme-down', `down.${ZONE}`);
    const rt0 = await composeLocal(loadInventory(text.replace(/\ncertificates:[\s\S]*$/, '\n')), {
      stateDir: join(dir, 'state-down'),
      target: { kind: 'none' },
      log: silentLogger,
    });
    await apply(rt0.deps, loadInventory(text.replace(/\ncertificates:[\s\S]*$/, '\n'))).finally(() => rt0.close());
    const inv = loadInventory(text.replace(env.pebble.directory, 'https://127.0.0.1:9/dir'));
    const rt = await composeLocal(inv, { stateDir: join(dir, 'state-down'), target: { kind: 'none' }, log: silentLogger });
    try {
      // Act
      const error = await apply(rt.deps, inv).then(
        () => undefined,
        (e: unknown) => e as Error & { retryable?: boolean },
      );
      // Assess
      expect(error?.message).toMatch(/ACME order \(authority public-ca, https:\/\/127\.0\.0\.1:9\/dir\): unreachable .*\(tried 4 times\)/);
      expect(error?.retryable).toBe(true);
      expect(await rt.deps.store.describe('rekey/acme-down/web')).toBeUndefined();
    } finally {
      await rt.close();
    }
  }, 60_000);

  it("revocation of an enrolled certificate goes to the ACME CA (revokeCert with rekey's account): pebble reports it revoked, the record refuses renewal, and the CRL route names the CA", async () => {
    // Prepare
    const text = inventoryText('acme-revoke', `unused.${ZONE}`).replace(
      /\ncertificates:[\s\S]*$/,
      `\nenrol:\n  - {name: zone-clients, issuer: public-ca, usage: clientserver, allowedNames: ["*.${ZONE}"], validity: 720h, tokenScope: "enrol:zone-clients"}\n`,
    );
    const inv = loadInventory(text);
    const profile = enrolProfile(inv, 'zone-clients');
    const rt = await composeLocal(inv, { stateDir: join(dir, 'state-revoke'), target: { kind: 'none' }, log: silentLogger });
    try {
      await apply(rt.deps, inv);
      const name = `svc.${ZONE}`;
      execFileSync(
        'openssl',
        ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'svc.key')].concat([
          '-subj',
          `/CN=${name}`,
          '-addext',
          `subjectAltName=DNS:${name}`,
          '-out',
          join(dir, 'svc.csr'),
        ]),
        { stdio: 'ignore' },
      );
      const csrPem = readFileSync(join(dir, 'svc.csr'), 'utf8');
      const enrolled = await enrol(rt.deps, inv, { profile, csrPem, requester: 'pem-agent' });
      // pebble's management API (HTTPS under pebble's own CA) tells what the CA holds for a serial.
      const status = () => {
        const url = `${new URL(env.pebble.roots).origin}/cert-status-by-serial/${enrolled.serial}`;
        return (JSON.parse(execFileSync('curl', ['-sS', '--cacert', env.pebble.caCert, url], { encoding: 'utf8' })) as { Status?: string })
          .Status;
      };
      const before = status();

      // Act
      const revoked = await revokeEnrolled(rt.deps, inv, { profile, serial: enrolled.serial, reason: 'superseded', by: 'secops' });
      const renewal = await renewEnrolment(rt.deps, inv, { profile, csrPem, clientCertificate: enrolled.certificate }).catch(
        (e: unknown) => e,
      );
      const crl = await enrolmentCrl(rt.deps, inv, profile);

      // Assess
      expect(before).toBe('Valid');
      expect(status()).toBe('Revoked');
      expect(revoked.record.revoked).toMatchObject({ reason: 'superseded', by: 'secops' });
      expect(renewal).toBeInstanceOf(RenewalRefusedError);
      expect(crl).toEqual({ kind: 'elsewhere', publisher: `the ACME CA ${env.pebble.directory}` });
    } finally {
      await rt.close();
    }
  }, 60_000);
});
