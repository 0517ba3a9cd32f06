// CSR enrolment through the api function (functions/api.ts) with API Gateway payload 2.0 events, the store on moto's
// Secrets Manager: openssl-made CSRs under rekey's own CA and under an AWS Private CA on moto, renewal with the
// client certificate API Gateway passes from mutual TLS (checked against the truststore `rekey truststore --backend aws`
// writes from Secrets Manager, as API Gateway checks it), refusals (none, expired, revoked), and the CRL as a base64 body.
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiHandler, type HttpApiEvent, type HttpApiResult } from '../../../functions/api.js';
import { depsFor } from '../../../functions/lib/runtime.js';
import { apply } from '../../../shared/app/apply.js';
import { leveledJsonLogger } from '../../../shared/app/api/json-logger.js';
import { ensureApiSigningKey } from '../../../shared/app/api/signing-key.js';
import { enrolRecordName } from '../../../shared/app/enrol.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { SigningKeyMaterial } from '../../../shared/domain/store/material.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { startAwsLambdaRunner, type AwsLambdaRunner } from '../../fixtures/aws-lambda-runner.js';
import { opensslCsr as makeCsr } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { tokens } from '../../unit/app/api/fixture.js';
import { createActiveRootCa } from '../issuers/private-ca.js';

const inventoryText = (name: string, pcaArn: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${name}}
authorities:
  - {name: root, commonName: enrol root, key: ECDSA-P256}
  - name: corp-ca
    commonName: corp-ca
    external: {awsPrivateCa: {arn: "${pcaArn}", signingAlgorithm: SHA256WITHRSA}}
enrol:
  - {name: backup-clients, issuer: root, usage: client, allowedNames: ["*.backup.internal"], validity: 720h, tokenScope: "enrol:backup-clients"}
  - {name: corp-clients, issuer: corp-ca, usage: client, allowedNames: ["*.corp.internal"], validity: 720h, tokenScope: "enrol:corp-clients"}
`;

let dir: string;
let runner: AwsLambdaRunner;
let handle: ReturnType<typeof apiHandler>;
let key: SigningKeyMaterial;
let inventoryName: string;
let pcaArn: string;
const logLines: string[] = [];
let n = 0;

const opensslCsr = (subject: string, san: string, keyFile?: string) => makeCsr(dir, `k${n++}`, subject, san, keyFile);

function event(method: string, path: string, init: { body?: unknown; token?: string; clientCertPem?: string } = {}): HttpApiEvent {
  return {
    version: '2.0',
    rawPath: path,
    rawQueryString: '',
    headers: {
      ...(init.token && { authorization: `Bearer ${init.token}` }),
      ...(init.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    requestContext: {
      http: { method, sourceIp: '203.0.113.20' },
      requestId: randomBytes(4).toString('hex'),
      ...(init.clientCertPem && { authentication: { clientCert: { clientCertPem: init.clientCertPem } } }),
    },
  };
}

const json = (r: HttpApiResult) => JSON.parse(r.body) as Record<string, string>;
const invoke = (e: HttpApiEvent) => handle(e, { awsRequestId: e.requestContext.requestId ?? 'r', getRemainingTimeInMillis: () => 25_000 });
const token = (scope: string, sub = 'pem-agent') => tokens(inventoryName, key).valid({ sub, scope });

function opensslVerify(ca: string, cert: string): string {
  writeFileSync(join(dir, 'v-ca.pem'), ca);
  writeFileSync(join(dir, 'v-leaf.pem'), cert);
  return execFileSync('openssl', ['verify', '-CAfile', join(dir, 'v-ca.pem'), join(dir, 'v-leaf.pem')], { encoding: 'utf8' });
}

beforeAll(async () => {
  dir = await makeTempDir('rekey-enrol-fn-');
  ({ arn: pcaArn } = await createActiveRootCa(`enrol-pca-${Date.now()}`));
  runner = await startAwsLambdaRunner({ name: 'enrol', inventory: (prefix) => loadInventory(inventoryText(prefix, pcaArn), 'enrol.yaml') });
  const rt = runner.runtime();
  inventoryName = rt.inventory.name;
  const result = await apply(depsFor(rt, new Map()), rt.inventory);
  expect(result.problems).toEqual([]);
  ({ material: key } = await ensureApiSigningKey(rt.aws.store, inventoryName));
  const logger = leveledJsonLogger({ level: 'info', write: (l) => logLines.push(l) });
  handle = apiHandler(() => ({ rt: runner.runtime(), logger }), { rateLimit: false });
}, 120_000);
afterAll(async () => {
  await runner?.stop();
  if (dir) await removeTempDir(dir);
});

describe('api function on moto: CSR enrolment', () => {
  it("rekey's own CA: an openssl CSR is signed and recorded in Secrets Manager; renewal with the certificate API Gateway passes from mTLS; after revocation it is refused and the CRL lists it", async () => {
    // Prepare
    const { csr, key: keyFile } = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal');
    const renewalCsr = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal', keyFile).csr;

    // Act
    const enrolled = await invoke(
      event('POST', '/v1/enrol', { body: { profile: 'backup-clients', csr }, token: await token('enrol:backup-clients') }),
    );
    const first = json(enrolled);
    const renewed = await invoke(
      event('POST', '/v1/enrol/renew', { body: { profile: 'backup-clients', csr: renewalCsr }, clientCertPem: first.certificate! }),
    );
    const second = json(renewed);
    const revoked = await invoke(
      event('POST', '/v1/enrol/backup-clients/revoke', {
        body: { serial: second.serial, reason: 'keyCompromise' },
        token: await token('enrol:backup-clients:revoke', 'secops'),
      }),
    );
    const refused = await invoke(
      event('POST', '/v1/enrol/renew', { body: { profile: 'backup-clients', csr: renewalCsr }, clientCertPem: second.certificate! }),
    );
    const crl = await invoke(event('GET', '/v1/enrol/backup-clients/crl'));

    // Assess
    expect(enrolled.statusCode, enrolled.body).toBe(200);
    expect(opensslVerify(first.ca!, first.certificate!)).toContain('OK');
    const stored = await runner.aws.store.getVersion(enrolRecordName(inventoryName, 'backup-clients', first.serial!), {
      stage: Stage.Current,
    });
    expect(JSON.parse(stored!.value)).toMatchObject({ serial: first.serial, requester: 'pem-agent', names: ['db1.backup.internal'] });
    expect(stored!.value).not.toContain('PRIVATE KEY');
    expect(renewed.statusCode, renewed.body).toBe(200);
    expect(second.serial).not.toBe(first.serial);
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(refused.statusCode).toBe(403);
    expect(json(refused).detail).toContain('was revoked at');
    expect(crl.statusCode).toBe(200);
    expect(crl.isBase64Encoded).toBe(true);
    expect(crl.headers['content-type']).toBe('application/pkix-crl');
    writeFileSync(join(dir, 'crl.der'), Buffer.from(crl.body, 'base64'));
    writeFileSync(join(dir, 'root.pem'), first.ca!);
    const text = execFileSync(
      'openssl',
      ['crl', '-inform', 'DER', '-in', join(dir, 'crl.der'), '-CAfile', join(dir, 'root.pem'), '-verify', '-noout', '-text'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(text).toContain(`Serial Number: ${second.serial!.toUpperCase()}`);
    expect(logLines.join('\n')).not.toMatch(/PRIVATE KEY|eyJ/);
  });

  it('refuses on Lambda as on serve: a name outside the profile (422), a tampered CSR (400), a token without the scope (403), no client certificate (401)', async () => {
    // Prepare
    const outside = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal,DNS:evil.example.com').csr;
    const good = opensslCsr('/CN=aaa.backup.internal', 'DNS:aaa.backup.internal').csr;
    const der = Buffer.from(good.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der.write('bbb', der.indexOf(Buffer.from('aaa.backup.internal')));
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const t = await token('enrol:backup-clients');

    // Act
    const names = await invoke(event('POST', '/v1/enrol', { body: { profile: 'backup-clients', csr: outside }, token: t }));
    const signature = await invoke(event('POST', '/v1/enrol', { body: { profile: 'backup-clients', csr: tampered }, token: t }));
    const scope = await invoke(
      event('POST', '/v1/enrol', { body: { profile: 'backup-clients', csr: good }, token: await token('enrol:corp-clients') }),
    );
    const noCert = await invoke(event('POST', '/v1/enrol/renew', { body: { profile: 'backup-clients', csr: good } }));

    // Assess
    expect([names.statusCode, signature.statusCode, scope.statusCode, noCert.statusCode]).toEqual([422, 400, 403, 401]);
    expect(json(names).detail).toContain('does not allow "evil.example.com"');
    expect(json(noCert).detail).toContain('a renewal needs the current certificate as the TLS client certificate');
  });

  it('refuses a renewal whose client certificate has expired (403), though API Gateway passed it', async () => {
    // Prepare: enrolled now, presented 721 h later (the profile's validity is 720 h), to a container whose clock says so.
    const { csr, key: keyFile } = opensslCsr('/CN=old.backup.internal', 'DNS:old.backup.internal');
    const enrolled = json(
      await invoke(event('POST', '/v1/enrol', { body: { profile: 'backup-clients', csr }, token: await token('enrol:backup-clients') })),
    );
    const later = new Date(Date.now() + 721 * 3_600_000);
    const logger = leveledJsonLogger({ level: 'info', write: (l) => logLines.push(l) });
    const laterHandle = apiHandler(() => ({ rt: { ...runner.runtime(), clock: { now: () => later } }, logger }), { rateLimit: false });
    const renewalCsr = opensslCsr('/CN=old.backup.internal', 'DNS:old.backup.internal', keyFile).csr;

    // Act
    const refused = await laterHandle(
      event('POST', '/v1/enrol/renew', { body: { profile: 'backup-clients', csr: renewalCsr }, clientCertPem: enrolled.certificate! }),
      { awsRequestId: 'expired', getRemainingTimeInMillis: () => 25_000 },
    );

    // Assess
    expect(enrolled.serial).toBeDefined();
    expect(refused.statusCode, refused.body).toBe(403);
    expect(json(refused).detail).toContain('the client certificate expired at');
  });

  it("`rekey truststore --backend aws` writes the profiles' CAs from Secrets Manager: the mTLS truststore verifies the enrolled client certificates of both profiles, and no other", async () => {
    // Prepare
    const own = opensslCsr('/CN=ts.backup.internal', 'DNS:ts.backup.internal').csr;
    const corp = opensslCsr('/CN=ts.corp.internal', 'DNS:ts.corp.internal').csr;
    const ownCert = json(
      await invoke(
        event('POST', '/v1/enrol', { body: { profile: 'backup-clients', csr: own }, token: await token('enrol:backup-clients') }),
      ),
    );
    const corpCert = json(
      await invoke(event('POST', '/v1/enrol', { body: { profile: 'corp-clients', csr: corp }, token: await token('enrol:corp-clients') })),
    );
    writeFileSync(join(dir, 'inv.yaml'), inventoryText(inventoryName, pcaArn));
    const out = join(dir, 'truststore.pem');
    const { runMain } = await import('../../fixtures/cli.js');

    // Act
    const res = await runMain(['--backend', 'aws', 'truststore', '-f', join(dir, 'inv.yaml'), '--out', out], runner.env);

    // Assess
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('2 CA certificate(s) of root, corp-ca for profile(s) backup-clients, corp-clients');
    const verify = (cert: string) => {
      writeFileSync(join(dir, 'ts-client.pem'), cert);
      return execFileSync('openssl', ['verify', '-CAfile', out, '-purpose', 'sslclient', join(dir, 'ts-client.pem')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    };
    expect(verify(ownCert.certificate!)).toContain('OK');
    expect(verify(corpCert.certificate! + corpCert.chain!)).toContain('OK');
    const stranger = execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        '/dev/null',
        '-subj',
        '/CN=ts.backup.internal',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    expect(() => verify(stranger)).toThrow();
  });

  it('AWS Private CA on moto: the CSR is signed by the Private CA (verifies under its certificate), renewal with that certificate works, widened names are refused; revocation goes to the Private CA (RevokeCertificate) and is recorded, so renewal is refused; the CRL route names the CA that publishes it (404)', async () => {
    // Prepare
    const { csr, key: keyFile } = opensslCsr('/CN=svc.corp.internal', 'DNS:svc.corp.internal');
    const renewalCsr = opensslCsr('/CN=svc.corp.internal', 'DNS:svc.corp.internal', keyFile).csr;
    const widerCsr = opensslCsr('/CN=svc.corp.internal', 'DNS:svc.corp.internal,DNS:other.corp.internal', keyFile).csr;

    // Act
    const enrolled = await invoke(
      event('POST', '/v1/enrol', { body: { profile: 'corp-clients', csr }, token: await token('enrol:corp-clients') }),
    );
    const first = json(enrolled);
    const renewed = await invoke(
      event('POST', '/v1/enrol/renew', { body: { profile: 'corp-clients', csr: renewalCsr }, clientCertPem: first.certificate! }),
    );
    const wider = await invoke(
      event('POST', '/v1/enrol/renew', { body: { profile: 'corp-clients', csr: widerCsr }, clientCertPem: first.certificate! }),
    );
    const crossCsr = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal', keyFile).csr;
    const crossProfile = await invoke(
      event('POST', '/v1/enrol/renew', { body: { profile: 'backup-clients', csr: crossCsr }, clientCertPem: first.certificate! }),
    );
    const revoked = await invoke(
      event('POST', '/v1/enrol/corp-clients/revoke', {
        body: { serial: json(renewed).serial, reason: 'superseded' },
        token: await token('enrol:corp-clients:revoke', 'secops'),
      }),
    );
    const refused = await invoke(
      event('POST', '/v1/enrol/renew', { body: { profile: 'corp-clients', csr: renewalCsr }, clientCertPem: json(renewed).certificate! }),
    );
    const crl = await invoke(event('GET', '/v1/enrol/corp-clients/crl'));

    // Assess
    expect(enrolled.statusCode, enrolled.body).toBe(200);
    const leaf = new X509Certificate(first.certificate!);
    expect(leaf.issuer).toContain('CN=enrol-pca-');
    expect(leaf.subjectAltName).toContain('DNS:svc.corp.internal');
    expect(opensslVerify(first.ca!, first.certificate! + first.chain!)).toContain('OK');
    expect(renewed.statusCode, renewed.body).toBe(200);
    expect(json(renewed).serial).not.toBe(first.serial);
    expect(opensslVerify(first.ca!, json(renewed).certificate!)).toContain('OK');
    expect(wider.statusCode).toBe(422);
    expect(json(wider).detail).toContain('"other.corp.internal"');
    expect(crossProfile.statusCode).toBe(403);
    expect(json(crossProfile).detail).toContain("not signed by the profile's authority");
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(logLines.some((l) => l.includes('enrolled certificate revoked') && l.includes('awsPrivateCa'))).toBe(true);
    expect(refused.statusCode).toBe(403);
    expect(crl.statusCode).toBe(404);
    expect(json(crl).detail).toMatch(/published by AWS Private CA arn:aws:acm-pca:/);
  });
});
