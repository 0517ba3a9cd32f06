// Renewal with the current certificate as proof (mTLS), revocation and the profile's CRL, through the router
// `rekey serve` and the api Lambda share, and over HTTPS with `rekey enrol --renew` and `rekey revoke`.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiRequest } from '../../../../shared/app/api/http.js';
import { enrolRecordName } from '../../../../shared/app/enrol.js';
import { parseEnrolmentRecord } from '../../../../shared/domain/enrol/record.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { opensslCsr as makeCsr } from '../../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, INVENTORY, tokens, type ApiFixture } from './fixture.js';

const TEXT = `${INVENTORY}enrol:
  - {name: backup-clients, issuer: root, usage: client, allowedNames: ["*.backup.internal"], validity: 720h, tokenScope: "enrol:backup-clients"}
  - {name: other-clients, issuer: root, usage: client, allowedNames: ["*.backup.internal"], validity: 720h, tokenScope: "enrol:other-clients"}
`;
const HOUR = 3_600_000;

let root: string;
let f: ApiFixture;
let n = 0;

const opensslCsr = (subject: string, san?: string, key?: string) => makeCsr(root, `k${n++}`, subject, san, key);

async function call(path: string, init: { body?: unknown; token?: string; cert?: string; method?: string } = {}) {
  const req: ApiRequest = {
    method: init.method ?? 'POST',
    path,
    query: new URLSearchParams(),
    headers: {
      ...(init.body !== undefined && { 'content-type': 'application/json' }),
      ...(init.token && { authorization: `Bearer ${init.token}` }),
    },
    ...(init.body !== undefined && { body: Buffer.from(JSON.stringify(init.body)) }),
    client: '192.0.2.9',
    ...(init.cert && { clientCertificate: init.cert }),
  };
  const res = await f.api.router(req);
  const json = res.bodyBytes ? {} : (JSON.parse(res.body || '{}') as Record<string, string>);
  return { status: res.status, json, headers: res.headers, bytes: res.bodyBytes };
}

/** Enrols `db1.backup.internal` (or `names`) under a profile with a token; returns the certificate and its key file. */
async function enrolled(profile = 'backup-clients', subject = '/CN=db1.backup.internal', san = 'DNS:db1.backup.internal') {
  const { csr, key } = opensslCsr(subject, san);
  const token = await tokens(f.inventory.name, f.key).valid({ sub: 'pem-agent', scope: `enrol:${profile}` });
  const res = await call('/v1/enrol', { body: { profile, csr }, token });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return { cert: res.json.certificate!, serial: res.json.serial!, key, ca: res.json.ca! };
}

const renew = (cert: string | undefined, csr: string, profile = 'backup-clients') =>
  call('/v1/enrol/renew', { body: { profile, csr }, ...(cert && { cert }) });

beforeEach(async () => {
  root = await makeTempDir('rekey-renew-');
  f = await apiFixture(root, { text: TEXT, router: { rateLimit: false } });
});
afterEach(() => removeTempDir(root));

describe('POST /v1/enrol/renew (the current certificate as proof)', () => {
  it('renews with the same key and names: a new serial, recorded with the old one; no token needed', async () => {
    // Prepare
    const first = await enrolled();
    const { csr } = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal', first.key);
    // Act
    const res = await renew(first.cert, csr);
    // Assess
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.serial).not.toBe(first.serial);
    const cert = new X509Certificate(res.json.certificate!);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(first.key)))).toBe(true);
    const stored = await f.rt.deps.store.getVersion(enrolRecordName('shop', 'backup-clients', res.json.serial!), { stage: Stage.Current });
    expect(parseEnrolmentRecord(stored!.value, 'r')).toMatchObject({ renewedFrom: first.serial, requester: 'pem-agent' });
  });

  it("renews a certificate of the profile's CA from before that CA's rotation onto the new CA (the old one kept as trusted by the rotation)", async () => {
    // Prepare
    const { driveRotations, startRotation } = await import('../../../../shared/app/rotation/index.js');
    const { RotationStatus, Trigger } = await import('../../../../shared/domain/rotation/record.js');
    const first = await enrolled();
    const oldCa = new X509Certificate(first.ca);
    const record = await startRotation(f.rt.deps, f.inventory, 'root', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(f.rt.deps, f.inventory, f.rt.queue);
    expect((await f.rt.deps.journal.get(record.id))?.status).toBe(RotationStatus.Completed);
    const { csr } = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal', first.key);
    // Act
    const res = await renew(first.cert, csr);
    // Assess
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const renewed = new X509Certificate(res.json.certificate!);
    expect(renewed.verify(oldCa.publicKey)).toBe(false);
    expect(renewed.verify(new X509Certificate(res.json.ca!).publicKey)).toBe(true);
  });

  it('renews with a narrower set of names', async () => {
    // Prepare
    const first = await enrolled('backup-clients', '/CN=db1.backup.internal', 'DNS:db1.backup.internal,DNS:db2.backup.internal');
    const { csr } = opensslCsr('/CN=db2.backup.internal', 'DNS:db2.backup.internal');
    // Act
    const res = await renew(first.cert, csr);
    // Assess
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(new X509Certificate(res.json.certificate!).subjectAltName).toBe('DNS:db2.backup.internal');
  });

  it('refuses names wider than the current certificate (422), though the profile would allow them', async () => {
    // Prepare
    const first = await enrolled();
    const { csr } = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal,DNS:db9.backup.internal');
    // Act
    const res = await renew(first.cert, csr);
    // Assess
    expect(res.status).toBe(422);
    expect(res.json.detail).toContain('may not widen the names: "db9.backup.internal"');
  });

  it('refuses an expired current certificate (403)', async () => {
    // Prepare
    const first = await enrolled();
    const { csr } = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal', first.key);
    const later = new Date(Date.now() + 721 * HOUR);
    Object.assign(f.rt.deps.clock, { now: () => later });
    // Act
    const res = await renew(first.cert, csr);
    // Assess
    expect(res.status).toBe(403);
    expect(res.json.detail).toContain('the client certificate expired at');
  });

  it('refuses a revoked current certificate (403) once POST /v1/enrol/{profile}/revoke has marked it', async () => {
    // Prepare
    const first = await enrolled();
    const { csr } = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal', first.key);
    const t = tokens(f.inventory.name, f.key);
    const revoker = await t.valid({ sub: 'secops', scope: 'enrol:backup-clients:revoke' });
    // Act
    const noScope = await call('/v1/enrol/backup-clients/revoke', {
      body: { serial: first.serial },
      token: await t.valid({ scope: 'enrol:backup-clients' }),
    });
    const revoked = await call('/v1/enrol/backup-clients/revoke', {
      body: { serial: first.serial, reason: 'keyCompromise' },
      token: revoker,
    });
    const again = await call('/v1/enrol/backup-clients/revoke', { body: { serial: first.serial }, token: revoker });
    const unknown = await call('/v1/enrol/backup-clients/revoke', { body: { serial: 'abcdef' }, token: revoker });
    const res = await renew(first.cert, csr);
    // Assess
    expect(noScope.status).toBe(403);
    expect(noScope.json.detail).toContain('needs scope "enrol:backup-clients:revoke"');
    expect(revoked.status, JSON.stringify(revoked.json)).toBe(200);
    expect(revoked.json.revoked).toMatchObject({ reason: 'keyCompromise', by: 'secops' });
    expect(again.status).toBe(200);
    expect(again.json.revoked).toEqual(revoked.json.revoked);
    expect(unknown.status).toBe(404);
    expect(res.status).toBe(403);
    expect(res.json.detail).toContain('was revoked at');
    expect(res.json.detail).toContain('keyCompromise');
  });

  it('refuses a certificate of another profile under the same CA, and one of another CA (403); none at all is 401', async () => {
    // Prepare
    const other = await enrolled('other-clients');
    const { csr } = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal', other.key);
    const caKey = join(root, 'rogue-ca.key');
    const caCert = join(root, 'rogue-ca.pem');
    execFileSync(
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
        caKey,
        '-subj',
        '/CN=root',
        '-days',
        '2',
        '-out',
        caCert,
      ],
      { stdio: 'ignore' },
    );
    const rogueCsr = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal');
    writeFileSync(join(root, 'rogue.csr'), rogueCsr.csr);
    const rogue = execFileSync(
      'openssl',
      ['x509', '-req', '-in', join(root, 'rogue.csr'), '-CA', caCert, '-CAkey', caKey, '-days', '1', '-copy_extensions', 'copy'],
      { encoding: 'utf8' },
    );
    const rogueRenewal = opensslCsr('/CN=db1.backup.internal', 'DNS:db1.backup.internal', rogueCsr.key);
    // Act
    const otherProfile = await renew(other.cert, csr);
    const otherCa = await renew(rogue, rogueRenewal.csr);
    const none = await renew(undefined, csr);
    // Assess
    expect(otherProfile.status).toBe(403);
    expect(otherProfile.json.detail).toContain('was not enrolled under this profile');
    expect(otherCa.status).toBe(403);
    expect(otherCa.json.detail).toContain("not signed by the profile's authority");
    expect(none.status).toBe(401);
  });
});

describe('GET /v1/enrol/{profile}/crl and /certificates', () => {
  it('serves a DER CRL signed by the CA that openssl verifies, listing the revoked serial with its reason; the list shows it revoked', async () => {
    // Prepare
    const kept = await enrolled();
    const gone = await enrolled('backup-clients', '/CN=db2.backup.internal', 'DNS:db2.backup.internal');
    const revoker = await tokens(f.inventory.name, f.key).valid({ scope: 'enrol:backup-clients:revoke' });
    const before = await call('/v1/enrol/backup-clients/crl', { method: 'GET' });
    await call('/v1/enrol/backup-clients/revoke', { body: { serial: gone.serial, reason: 'keyCompromise' }, token: revoker });
    // Act
    const crl = await call('/v1/enrol/backup-clients/crl', { method: 'GET' });
    const reused = await call('/v1/enrol/backup-clients/crl', { method: 'GET' });
    const list = await call('/v1/enrol/backup-clients/certificates', {
      method: 'GET',
      token: await tokens(f.inventory.name, f.key).valid({ scope: 'items:read' }),
    });
    // Assess
    expect(crl.status).toBe(200);
    expect(crl.headers['content-type']).toBe('application/pkix-crl');
    // Built once a minute per process (the route is open), dropped by a revocation here.
    expect(crl.bytes!.equals(before.bytes!)).toBe(false);
    expect(reused.bytes!.equals(crl.bytes!)).toBe(true);
    writeFileSync(join(root, 'crl.der'), crl.bytes!);
    writeFileSync(join(root, 'ca.pem'), kept.ca);
    const verified = execFileSync(
      'openssl',
      ['crl', '-inform', 'DER', '-in', join(root, 'crl.der'), '-CAfile', join(root, 'ca.pem'), '-verify', '-noout', '-text'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(verified).toContain(`Serial Number: ${gone.serial.toUpperCase()}`);
    expect(verified).toContain('Key Compromise');
    expect(verified).not.toContain(kept.serial.toUpperCase());
    expect(verified).toMatch(/X509v3 CRL Number/);
    const all = (list.json as unknown as { certificates: { serial: string; revoked?: { reason: string } }[] }).certificates;
    expect(all.map((c) => c.serial).sort()).toEqual([kept.serial, gone.serial].sort());
    expect(all.find((c) => c.serial === gone.serial)?.revoked?.reason).toBe('keyCompromise');
    expect(all.find((c) => c.serial === kept.serial)?.revoked).toBeUndefined();
    expect(list.json).not.toHaveProperty('certificates.0.certificate');
  });

  it('answers 404 for an unknown profile', async () => {
    // Act
    const res = await call('/v1/enrol/nobody/crl', { method: 'GET' });
    // Assess
    expect(res.status).toBe(404);
  });
});

describe('rekey enrol --renew, rekey revoke, rekey inspect <profile> (the clients)', () => {
  it('renews over HTTPS with the current certificate and key as the TLS client certificate; after rekey revoke it is refused', async () => {
    // Prepare
    const { listenHttps } = await import('../../../../shared/app/api/https-server.js');
    const { selfSignedTls } = await import('../../../../shared/app/api/tls.js');
    const { runMain } = await import('../../../fixtures/cli.js');
    const tls = selfSignedTls(['localhost']);
    const server = await listenHttps({ router: f.api.router, tls, port: 0, host: '127.0.0.1' });
    writeFileSync(join(root, 'api-ca.pem'), tls.cert);
    writeFileSync(join(root, 'inv.yaml'), TEXT);
    const token = await tokens(f.inventory.name, f.key).valid({ sub: 'pem-agent', scope: 'enrol:backup-clients' });
    const base = ['enrol', '--profile', 'backup-clients', '--key', join(root, 'agent.key'), '--out', join(root, 'agent')];
    const api = ['--url', `https://localhost:${server.port}`, '--cacert', join(root, 'api-ca.pem')];
    const local = { REKEY_VAULT_KEY: f.rt.key.toString('hex') };
    const state = ['--state', f.rt.stateDir];
    try {
      // Act
      const first = await runMain([...base, ...api, '--name', 'agent.backup.internal'], { REKEY_TOKEN: token });
      const firstCert = new X509Certificate(readFileSync(join(root, 'agent', 'tls.crt')));
      const renewed = await runMain([...base, ...api, '--renew'], { REKEY_TOKEN: undefined });
      const renewedCert = new X509Certificate(readFileSync(join(root, 'agent', 'tls.crt')));
      // `rekey serve` holds the state lock, so a running server's certificates are revoked through its API.
      const revoker = await tokens(f.inventory.name, f.key).valid({ sub: 'secops', scope: 'enrol:backup-clients:revoke' });
      await call('/v1/enrol/backup-clients/revoke', { body: { serial: renewedCert.serialNumber }, token: revoker });
      const refused = await runMain([...base, ...api, '--renew'], { REKEY_TOKEN: undefined });
      await server.close();
      const revoke = await runMain(
        [
          ...state,
          'revoke',
          '-f',
          join(root, 'inv.yaml'),
          '--profile',
          'backup-clients',
          '--serial',
          firstCert.serialNumber,
          '--reason',
          'superseded',
        ],
        local,
      );
      const inspect = await runMain([...state, 'inspect', 'backup-clients', '-f', join(root, 'inv.yaml')], local);
      const badReason = await runMain(
        [...state, 'revoke', '-f', join(root, 'inv.yaml'), '--profile', 'backup-clients', '--serial', 'ab', '--reason', 'boredom'],
        local,
      );
      // Assess
      expect(first.code, first.stderr).toBe(0);
      expect(renewed.code, renewed.stderr).toBe(0);
      expect(renewed.stdout).toContain('renewed: serial');
      expect(renewedCert.serialNumber).not.toBe(firstCert.serialNumber);
      expect(renewedCert.subjectAltName).toBe('DNS:agent.backup.internal');
      expect(revoke.code, revoke.stderr).toBe(0);
      expect(revoke.stdout).toContain(`revoked ${firstCert.serialNumber.toLowerCase()}`);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('renewal refused (403)');
      expect(refused.stderr).toContain('was revoked at');
      expect(inspect.code, inspect.stderr).toBe(0);
      expect(inspect.stdout).toContain('enrolment profile backup-clients: 2 certificate(s)');
      expect(inspect.stdout).toMatch(new RegExp(`${firstCert.serialNumber.toLowerCase()} .*REVOKED .*superseded, by operator`));
      expect(inspect.stdout).toMatch(
        new RegExp(`${renewedCert.serialNumber.toLowerCase()} .*renewed from .*REVOKED .*unspecified, by secops`),
      );
      expect(badReason.code).toBe(2);
      expect(badReason.stderr).toContain('--reason boredom');
      expect(renewed.stdout + renewed.stderr + inspect.stdout).not.toContain('PRIVATE KEY');
    } finally {
      await server.close();
    }
  });
});
