// POST /v1/enrol through the API router `rekey serve` and the api Lambda share, with CSRs made by openssl.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiRequest } from '../../../../shared/app/api/http.js';
import { enrolRecordName } from '../../../../shared/app/enrol.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { opensslCsr as makeCsr } from '../../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, INVENTORY, tokens, type ApiFixture } from './fixture.js';

const TEXT = `${INVENTORY}enrol:
  - {name: backup-clients, issuer: root, usage: client, allowedNames: ["*.backup.internal"], validity: 720h, tokenScope: "enrol:backup-clients"}
`;

let root: string;
let f: ApiFixture;

const opensslCsr = (name: string, subject: string, san?: string) => makeCsr(root, name, subject, san);

async function post(body: unknown, token: string) {
  const req: ApiRequest = {
    method: 'POST',
    path: '/v1/enrol',
    query: new URLSearchParams(),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: Buffer.from(JSON.stringify(body)),
    client: '192.0.2.9',
  };
  const res = await f.api.router(req);
  return { status: res.status, json: JSON.parse(res.body) as Record<string, string> };
}

beforeEach(async () => {
  root = await makeTempDir('rekey-enrol-');
  f = await apiFixture(root, { text: TEXT, router: { rateLimit: false } });
});
afterEach(() => removeTempDir(root));

describe('POST /v1/enrol', () => {
  it("signs an openssl CSR in the profile: the certificate holds the requester's key, verifies under the CA, and is recorded with the requester", async () => {
    // Prepare
    const { csr, key } = opensslCsr('ok', '/CN=db1.backup.internal', 'DNS:db1.backup.internal');
    const token = await tokens(f.inventory.name, f.key).valid({ sub: 'pem-agent', scope: 'enrol:backup-clients' });
    // Act
    const res = await post({ profile: 'backup-clients', csr }, token);
    // Assess
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const cert = new X509Certificate(res.json.certificate!);
    expect(cert.subject).toBe('CN=db1.backup.internal');
    expect(cert.subjectAltName).toBe('DNS:db1.backup.internal');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(key)))).toBe(true);
    writeFileSync(join(root, 'ca.pem'), res.json.ca!);
    writeFileSync(join(root, 'leaf.pem'), res.json.certificate!);
    expect(execFileSync('openssl', ['verify', '-CAfile', join(root, 'ca.pem'), join(root, 'leaf.pem')], { encoding: 'utf8' })).toContain(
      'OK',
    );
    const record = await f.rt.deps.store.getVersion(enrolRecordName('shop', 'backup-clients', res.json.serial!), { stage: Stage.Current });
    expect(JSON.parse(record!.value)).toMatchObject({
      serial: res.json.serial,
      subject: 'CN=db1.backup.internal',
      requester: 'pem-agent',
      names: ['db1.backup.internal'],
    });
    expect(record!.value).not.toContain('PRIVATE KEY');
  });

  it.each([
    [
      'a name outside the profile',
      '/CN=db1.backup.internal',
      'DNS:db1.backup.internal,DNS:evil.example.com',
      422,
      'does not allow "evil.example.com"',
    ],
    ['a CN outside the profile', '/CN=a.b.backup.internal', undefined, 422, 'does not allow "a.b.backup.internal"'],
  ])('refuses %s (%s)', async (_what, subject, san, status, message) => {
    // Prepare
    const { csr } = opensslCsr('bad', subject, san);
    const token = await tokens(f.inventory.name, f.key).valid({ scope: 'enrol:backup-clients' });
    // Act
    const res = await post({ profile: 'backup-clients', csr }, token);
    // Assess
    expect(res.status).toBe(status);
    expect(res.json.detail).toContain(message);
  });

  it('refuses a CSR whose signature does not verify (a name changed after signing)', async () => {
    // Prepare
    const { csr } = opensslCsr('tampered', '/CN=aaa.backup.internal', 'DNS:aaa.backup.internal');
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der.write('bbb', der.indexOf(Buffer.from('aaa.backup.internal')));
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const token = await tokens(f.inventory.name, f.key).valid({ scope: 'enrol:backup-clients' });
    // Act
    const res = await post({ profile: 'backup-clients', csr: tampered }, token);
    // Assess
    expect(res.status).toBe(400);
    expect(res.json.detail).toContain('signature does not verify');
  });

  it("refuses a token without the profile's scope (403) and no token (401); an unknown profile is 404", async () => {
    // Prepare
    const { csr } = opensslCsr('scope', '/CN=db2.backup.internal');
    const t = tokens(f.inventory.name, f.key);
    // Act
    const wrongScope = await post({ profile: 'backup-clients', csr }, await t.valid({ scope: 'items:read enrol:other' }));
    const noToken = await post({ profile: 'backup-clients', csr }, '');
    const unknown = await post({ profile: 'nobody', csr }, await t.valid({ scope: 'enrol:backup-clients' }));
    // Assess
    expect(wrongScope.status).toBe(403);
    expect(wrongScope.json.detail).toContain('needs scope "enrol:backup-clients"');
    expect(noToken.status).toBe(401);
    expect(unknown.status).toBe(404);
  });
});

describe('rekey enrol (the client)', () => {
  it('makes a key (0600) that never leaves the host, enrols over HTTPS, writes tls.crt and ca.crt; a second run renews with the same key', async () => {
    // Prepare
    const { listenHttps } = await import('../../../../shared/app/api/https-server.js');
    const { selfSignedTls } = await import('../../../../shared/app/api/tls.js');
    const { runMain } = await import('../../../fixtures/cli.js');
    const { statSync } = await import('node:fs');
    const tls = selfSignedTls(['localhost']);
    const server = await listenHttps({ router: f.api.router, tls, port: 0, host: '127.0.0.1' });
    writeFileSync(join(root, 'api-ca.pem'), tls.cert);
    const token = await tokens(f.inventory.name, f.key).valid({ sub: 'pem-agent', scope: 'enrol:backup-clients' });
    const args = [
      'enrol',
      '--profile',
      'backup-clients',
      '--key',
      join(root, 'agent.key'),
      '--out',
      join(root, 'agent'),
      '--url',
      `https://localhost:${server.port}`,
      '--name',
      'agent.backup.internal',
      '--cacert',
      join(root, 'api-ca.pem'),
    ];
    try {
      // Act
      const first = await runMain(args, { REKEY_TOKEN: token });
      const firstCert = readFileSync(join(root, 'agent', 'tls.crt'), 'utf8');
      const second = await runMain(args, { REKEY_TOKEN: token });
      const refused = await runMain(
        args.map((a) => (a === 'agent.backup.internal' ? 'evil.example.com' : a)),
        { REKEY_TOKEN: token },
      );
      // Assess
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('enrolled: serial');
      expect(statSync(join(root, 'agent.key')).mode & 0o777).toBe(0o600);
      const key = (await import('node:crypto')).createPrivateKey(readFileSync(join(root, 'agent.key')));
      expect(new X509Certificate(firstCert).checkPrivateKey(key)).toBe(true);
      expect(second.code, second.stderr).toBe(0);
      const renewed = new X509Certificate(readFileSync(join(root, 'agent', 'tls.crt'), 'utf8'));
      expect(renewed.serialNumber).not.toBe(new X509Certificate(firstCert).serialNumber);
      expect(renewed.checkPrivateKey(key)).toBe(true);
      expect(
        execFileSync('openssl', ['verify', '-CAfile', join(root, 'agent', 'ca.crt'), join(root, 'agent', 'tls.crt')], { encoding: 'utf8' }),
      ).toContain('OK');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('enrolment refused (422)');
      expect(first.stdout + first.stderr + second.stdout).not.toContain('PRIVATE KEY');
    } finally {
      await server.close();
    }
  });
});
