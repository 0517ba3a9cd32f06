// Seed 004: a backup API behind an Apache proxy with client-certificate auth. rekey issues the cluster CA, the
// proxy's server certificate and one client certificate per consuming service, writes them as files on the
// host with the modes asked for, reloads Apache, and rotations keep `curl --cert ... /diagnose` working.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInfraEnv, runReload } from '../infra/env.js';
import { runMain } from '../fixtures/cli.js';

const env = loadInfraEnv({ require: ['proxy'] });
const work = mkdtempSync(join(tmpdir(), 'rekey-seed-004-'));
const state = join(work, 'state');
const clientDir = join(work, 'clients');
const inventoryFile = join(work, 'tpa.yaml');

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: tpa}
authorities:
  - name: cluster-ca
    commonName: tpa cluster CA
    key: ECDSA-P384
    validity: 87600h
    files: {dir: ${env.proxy.tlsDir}, cert: client-ca.crt, mode: "0644", reload: "${env.proxy.reloadCmd}"}
certificates:
  - name: pg-backup-api
    issuer: cluster-ca
    usage: server
    commonName: localhost
    dnsNames: [localhost]
    ipAddresses: [127.0.0.1]
    files: {dir: ${env.proxy.tlsDir}, cert: server.crt, key: server.key, mode: "0600", reload: "${env.proxy.reloadCmd}"}
  - name: pg-backup-user
    issuer: cluster-ca
    usage: client
    commonName: pg-backup-user
    files: {dir: ${clientDir}, cert: pg-backup-user.crt, key: pg-backup-user.key, ca: root.crt, mode: "0600"}
  - name: pem-agent
    issuer: cluster-ca
    usage: client
    key: RSA-2048
    commonName: pem-agent
    files: {dir: ${clientDir}/pem, cert: pem-agent.crt, key: pem-agent.key, ca: root.crt, mode: "0600"}
`;

function diagnose(client?: { cert: string; key: string }) {
  const args = ['-sS', '--max-time', '10', '--cacert', join(clientDir, 'root.crt')];
  if (client) args.push('--cert', client.cert, '--key', client.key);
  return spawnSync('curl', [...args, `${env.proxy.url}/diagnose`], { encoding: 'utf8', timeout: 30_000 });
}

/** SHA-256 fingerprint of the certificate the proxy serves now. */
function servedFingerprint(): string {
  const r = spawnSync(
    'openssl',
    [
      's_client',
      '-connect',
      `127.0.0.1:${new URL(env.proxy.url).port}`,
      '-servername',
      'localhost',
      '-cert',
      join(clientDir, 'pg-backup-user.crt'),
      '-key',
      join(clientDir, 'pg-backup-user.key'),
    ],
    { input: '', encoding: 'utf8', timeout: 30_000 },
  );
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  if (!pem) throw new Error(`no certificate served: ${r.stderr}`);
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}

const fileFingerprint = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256.replace(/:/g, '').toLowerCase();
const user = { cert: join(clientDir, 'pg-backup-user.crt'), key: join(clientDir, 'pg-backup-user.key') };
const rekey = (...args: string[]) => runMain([...args, '-f', inventoryFile, '--state', state]);

beforeAll(() => {
  writeFileSync(inventoryFile, INVENTORY);
});

afterAll(async () => {
  // Give the proxy back the certificates the infrastructure started it with, for the tests after this one.
  const pki = join(env.proxy.initCa, '..');
  copyFileSync(join(pki, 'server.crt'), join(env.proxy.tlsDir, 'server.crt'));
  copyFileSync(join(pki, 'server.key'), join(env.proxy.tlsDir, 'server.key'));
  copyFileSync(join(pki, 'ca.crt'), join(env.proxy.tlsDir, 'client-ca.crt'));
  await runReload(env.proxy.reloadCmd);
  rmSync(work, { recursive: true, force: true });
});

describe('seed 004: backup API behind a client-certificate proxy', () => {
  it('apply writes the CA, the server certificate and the client certificates as files and reloads Apache', async () => {
    // Act
    const applied = await rekey('apply');
    // Assess
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/files -> .*server\.crt, server\.key \(reloaded\)/);
    expect(statSync(join(env.proxy.tlsDir, 'server.key')).mode & 0o777).toBe(0o600);
    expect(statSync(user.key).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(env.proxy.tlsDir, 'server.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(applied.stdout + applied.stderr).not.toContain('PRIVATE KEY');
  });

  it('curl --cert with a client certificate gets /diagnose; without one the proxy refuses', () => {
    // Act
    const withCert = diagnose(user);
    const withOther = diagnose({ cert: join(clientDir, 'pem', 'pem-agent.crt'), key: join(clientDir, 'pem', 'pem-agent.key') });
    const without = diagnose();
    // Assess: the server certificate verifies against rekey's CA (curl --cacert root.crt), the clients are let in
    expect(withCert.status, withCert.stderr).toBe(0);
    expect(JSON.parse(withCert.stdout)).toMatchObject({ status: 'ok', clientVerify: 'SUCCESS' });
    expect(JSON.parse(withCert.stdout).clientSubject).toContain('CN=pg-backup-user');
    expect(JSON.parse(withOther.stdout).clientSubject).toContain('CN=pem-agent');
    expect(without.status).not.toBe(0);
    expect(without.stdout).not.toContain('"status":"ok"');
  });

  it('a client certificate from another CA is refused', () => {
    // Act: the infrastructure's own client certificate is signed by a CA the proxy no longer trusts
    const r = diagnose({ cert: env.proxy.initClientCert, key: env.proxy.initClientKey });
    // Assess
    expect(r.status === 0 && r.stdout.includes('"status":"ok"')).toBe(false);
  });

  it('rotating the proxy certificate reloads Apache: the new certificate is served and clients keep working', async () => {
    // Prepare
    const before = servedFingerprint();
    // Act
    const rotated = await rekey('rotate', 'pg-backup-api');
    // Assess
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const after = servedFingerprint();
    expect(after).not.toBe(before);
    expect(after).toBe(fileFingerprint(join(env.proxy.tlsDir, 'server.crt')));
    const r = diagnose(user);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('ok');
  });

  it('rotating a client certificate gives a new one that works; the previous stays retrievable', async () => {
    // Prepare
    const before = fileFingerprint(user.cert);
    // Act
    const rotated = await rekey('rotate', 'pg-backup-user');
    const previous = await rekey('export', 'pg-backup-user', '--version-stage', 'previous', '--dir', join(work, 'previous'));
    // Assess
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    expect(fileFingerprint(user.cert)).not.toBe(before);
    expect(previous.code).toBe(0);
    expect(fileFingerprint(join(work, 'previous', 'tls.crt'))).toBe(before);
    const r = diagnose(user);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).clientSubject).toContain('CN=pg-backup-user');
  });

  it('a second apply changes nothing and reloads nothing', async () => {
    // Act
    const again = await rekey('apply');
    // Assess
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/0 version\(s\) made/);
    expect(again.stdout).not.toContain('reloaded');
  });
});
