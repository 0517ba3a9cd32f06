import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../fixtures/openssl.js';
import { rekeyOn, startServe, stopProcess, type ServeProcess } from '../../fixtures/serve-client.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { defined } from '../../../shared/domain/defined.js';

/**
 * CSR enrolment against a real `rekey serve` process, with the tools a service's setup script has: openssl makes the
 * key and CSRs, curl posts them (a bearer token from `rekey token`; for renewal the current certificate and key as
 * curl's TLS client certificate), curl fetches the CRL and openssl verifies it.
 */

const INVENTORY = `apiVersion: rekey/v1
kind: Inventory
metadata: {name: enrolserve}
authorities:
  - {name: ca, commonName: enrol serve ca, key: ECDSA-P256}
enrol:
  - {name: backup-clients, issuer: ca, usage: client, allowedNames: ["*.backup.internal"], validity: 720h, tokenScope: "enrol:backup-clients"}
api: {publicUrl: "https://rekey.example:8628"}
`;

describe('CSR enrolment against rekey serve, with openssl and curl', () => {
  let dir: string;
  let state: string;
  let inv: string;
  let serve: ServeProcess | undefined;
  let port: number;

  const rekey = (args: readonly string[]) => rekeyOn(state)(args);
  const file = (name: string) => join(dir, name);
  const openssl = async (args: readonly string[]) => {
    const r = await run('openssl', args, { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };
  /** curl against the server, pinned to the certificate it served; returns status and body. */
  const curl = async (args: readonly string[]) => {
    const r = await run(
      'curl',
      ['-sS', '--cacert', file('api.pem'), '--resolve', `localhost:${port}:127.0.0.1`, '-w', '\n%{http_code}', ...args],
      { cwd: dir },
    );
    expect(r.status, r.stderr).toBe(0);
    const at = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) };
  };
  const url = (path: string) => `https://localhost:${port}${path}`;
  const postJson = async (path: string, body: unknown, extra: readonly string[]) => {
    await writeFile(file('body.json'), JSON.stringify(body));
    return curl(['-H', 'content-type: application/json', '--data-binary', `@${file('body.json')}`, ...extra, url(path)]);
  };

  beforeAll(async () => {
    dir = await makeTempDir('rekey-enrol-serve-');
    state = join(dir, 'state');
    inv = join(dir, 'inventory.yaml');
    await writeFile(inv, INVENTORY);
    const applied = await rekey(['apply', '-f', inv, '--out', join(dir, 'out')]);
    expect(applied.status, applied.stderr).toBe(0);
    serve = await startServe(
      ['--state', state, 'serve', '-f', inv, '--out', join(dir, 'out')].concat([
        '--http-port',
        '0',
        '--grpc-port',
        'off',
        '--address',
        '127.0.0.1',
      ]),
    );
    port = serve.https;
    // Pin the server's self-signed certificate, as a client given it out of band would.
    const shown = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'], { cwd: dir });
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(shown.stdout)?.[0];
    expect(pem, shown.stderr).toBeDefined();
    await writeFile(file('api.pem'), pem!);
  }, 180_000);

  afterAll(async () => {
    await stopProcess(serve);
    if (dir) await removeTempDir(dir);
  });

  it('enrols an openssl CSR with a token, renews with the certificate as curl --cert, is refused after revocation, and the CRL verifies', async () => {
    // Prepare
    const mint = async (scope: string, subject: string) => {
      const r = await rekey(['token', '-f', inv, '--scope', scope, '--subject', subject, '--ttl', '10m']);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const token = await mint('enrol:backup-clients', 'pem-agent');
    const revoker = await mint('enrol:backup-clients:revoke', 'secops');
    const req = (out: string, newKey: boolean) =>
      openssl([
        'req',
        '-new',
        ...(newKey ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'svc.key'] : ['-key', 'svc.key']),
        '-subj',
        '/CN=db1.backup.internal',
        '-addext',
        'subjectAltName=DNS:db1.backup.internal',
        '-out',
        out,
      ]);
    await req('svc.csr', true);
    await req('renew.csr', false);
    const body = async (csrFile: string) => ({ profile: 'backup-clients', csr: await readFile(file(csrFile), 'utf8') });

    // Act
    const enrolled = await postJson('/v1/enrol', await body('svc.csr'), ['-H', `authorization: Bearer ${token}`]);
    expect(enrolled.status, enrolled.body).toBe(200);
    const first = JSON.parse(enrolled.body) as Record<string, string>;
    await writeFile(file('svc.crt'), first.certificate ?? '');
    await writeFile(file('ca.pem'), first.ca ?? '');
    const renewed = await postJson('/v1/enrol/renew', await body('renew.csr'), ['--cert', file('svc.crt'), '--key', file('svc.key')]);
    const second = JSON.parse(renewed.body) as Record<string, string>;
    await writeFile(file('renewed.crt'), second.certificate ?? '');
    const noCert = await postJson('/v1/enrol/renew', await body('renew.csr'), []);
    const revoked = await postJson('/v1/enrol/backup-clients/revoke', { serial: second.serial, reason: 'keyCompromise' }, [
      '-H',
      `authorization: Bearer ${revoker}`,
    ]);
    const refused = await postJson('/v1/enrol/renew', await body('renew.csr'), ['--cert', file('renewed.crt'), '--key', file('svc.key')]);
    const crl = await curl(['-o', file('crl.der'), url('/v1/enrol/backup-clients/crl')]);

    // Assess
    expect(enrolled.status, enrolled.body).toBe(200);
    expect(await openssl(['verify', '-CAfile', 'ca.pem', 'svc.crt'])).toContain('OK');
    expect(renewed.status, renewed.body).toBe(200);
    expect(second.serial).not.toBe(first.serial);
    expect(
      new X509Certificate(second.certificate!).checkPrivateKey(
        (await import('node:crypto')).createPrivateKey(await readFile(file('svc.key'))),
      ),
    ).toBe(true);
    expect(noCert.status).toBe(401);
    expect(revoked.status, revoked.body).toBe(200);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('was revoked at');
    expect(crl.status).toBe(200);
    const text = await openssl(['crl', '-inform', 'DER', '-in', 'crl.der', '-CAfile', 'ca.pem', '-verify', '-noout', '-text']);
    expect(text).toContain(`Serial Number: ${second.serial!.toUpperCase()}`);
    expect(text).toContain('Key Compromise');
    expect(defined(serve, 'rekey serve').stderr()).toContain('certificate renewed');
  });

  it("enrolled certificates name the API's CRL of their profile (CRL Distribution Points), and openssl verify -crl_check with the CRL fetched from rekey serve refuses the revoked one and accepts another", async () => {
    // Prepare
    const token = (
      await rekey(['token', '-f', inv, '--scope', 'enrol:backup-clients', '--subject', 'pem-agent', '--ttl', '10m'])
    ).stdout.trim();
    const revoker = (
      await rekey(['token', '-f', inv, '--scope', 'enrol:backup-clients:revoke', '--subject', 'secops', '--ttl', '10m'])
    ).stdout.trim();
    const enrolOne = async (name: string) => {
      await openssl(
        ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`].concat([
          '-subj',
          `/CN=${name}.backup.internal`,
          '-addext',
          `subjectAltName=DNS:${name}.backup.internal`,
          '-out',
          `${name}.csr`,
        ]),
      );
      const r = await postJson('/v1/enrol', { profile: 'backup-clients', csr: await readFile(file(`${name}.csr`), 'utf8') }, [
        '-H',
        `authorization: Bearer ${token}`,
      ]);
      expect(r.status, r.body).toBe(200);
      const enrolled = JSON.parse(r.body) as Record<string, string>;
      await writeFile(file(`${name}.crt`), enrolled.certificate ?? '');
      await writeFile(file('cdp-ca.pem'), enrolled.ca ?? '');
      return enrolled;
    };
    const kept = await enrolOne('kept');
    const gone = await enrolOne('gone');

    // Act
    const revoked = await postJson('/v1/enrol/backup-clients/revoke', { serial: gone.serial, reason: 'keyCompromise' }, [
      '-H',
      `authorization: Bearer ${revoker}`,
    ]);
    const crl = await curl(['-o', file('cdp-crl.der'), url('/v1/enrol/backup-clients/crl')]);
    await openssl(['crl', '-inform', 'DER', '-in', 'cdp-crl.der', '-out', 'cdp-crl.pem']);
    const verify = (cert: string) =>
      run('openssl', ['verify', '-crl_check', '-CAfile', 'cdp-ca.pem', '-CRLfile', 'cdp-crl.pem', cert], { cwd: dir });
    const keptVerified = await verify('kept.crt');
    const goneVerified = await verify('gone.crt');

    // Assess
    expect(kept.serial).not.toBe(gone.serial);
    const text = await openssl(['x509', '-in', 'kept.crt', '-noout', '-text']);
    expect(text).toMatch(
      /X509v3 CRL Distribution Points:\s+Full Name:\s+URI:https:\/\/rekey\.example:8628\/v1\/enrol\/backup-clients\/crl/,
    );
    expect(revoked.status, revoked.body).toBe(200);
    expect(crl.status).toBe(200);
    expect(keptVerified.status, keptVerified.stderr).toBe(0);
    expect(keptVerified.stdout).toContain('kept.crt: OK');
    expect(goneVerified.status).not.toBe(0);
    expect(goneVerified.stdout + goneVerified.stderr).toContain('certificate revoked');
    expect(defined(serve, 'rekey serve').stderr()).not.toMatch(/PRIVATE KEY|eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });
});
