// Smoke test of the client-certificate proxy (test/infra, seed 004): curl with a client
// certificate gets /diagnose; without one it is refused; new files apply after reload.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInfraEnv, runReload } from '../../infra/env.js';
import { makeCa, makeCert } from '../../infra/pki.js';

const env = loadInfraEnv({ require: ['proxy'] });
const work = mkdtempSync(join(tmpdir(), 'rekey-proxy-smoke-'));

function curl(args: string[]) {
  return spawnSync('curl', ['-sS', '--max-time', '10', ...args, `${env.proxy.url}/diagnose`], { encoding: 'utf8', timeout: 30_000 });
}

async function restoreInitialCerts(): Promise<void> {
  const pki = join(env.proxy.initCa, '..');
  copyFileSync(join(pki, 'server.crt'), join(env.proxy.tlsDir, 'server.crt'));
  copyFileSync(join(pki, 'server.key'), join(env.proxy.tlsDir, 'server.key'));
  copyFileSync(join(pki, 'ca.crt'), join(env.proxy.tlsDir, 'client-ca.crt'));
  await runReload(env.proxy.reloadCmd);
}

afterAll(async () => {
  await restoreInitialCerts();
  rmSync(work, { recursive: true, force: true });
});

describe('client-certificate proxy', () => {
  it('answers /diagnose with JSON to curl --cert', () => {
    // Prepare
    const args = ['--cacert', env.proxy.initCa, '--cert', env.proxy.initClientCert, '--key', env.proxy.initClientKey];

    // Act
    const r = curl(args);

    // Assess
    expect(r.status).toBe(0);
    const body = JSON.parse(r.stdout) as { status: string; clientSubject: string; clientVerify: string };
    expect(body.status).toBe('ok');
    expect(body.clientVerify).toBe('SUCCESS');
    expect(body.clientSubject).toContain('CN=diagnose-client');
  });

  it('refuses a client without a certificate', () => {
    // Prepare
    const args = ['--cacert', env.proxy.initCa];

    // Act
    const r = curl(args);

    // Assess
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toContain('"status":"ok"');
    expect(r.stderr).toMatch(/alert|certificate|handshake/i);
  });

  it('uses new server and client-CA files after the reload command', async () => {
    // Prepare
    const ca = makeCa(work, 'ca2', 'rekey-test proxy smoke CA 2');
    const server = makeCert(work, 'server2', ca, { cn: 'localhost', kind: 'server', sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    const client = makeCert(work, 'client2', ca, { cn: 'backup-consumer', kind: 'client' });

    // Act
    copyFileSync(server.cert, join(env.proxy.tlsDir, 'server.crt'));
    copyFileSync(server.key, join(env.proxy.tlsDir, 'server.key'));
    copyFileSync(ca.cert, join(env.proxy.tlsDir, 'client-ca.crt'));
    await runReload(env.proxy.reloadCmd);

    // Assess
    const ok = curl(['--cacert', ca.cert, '--cert', client.cert, '--key', client.key]);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'ok', clientVerify: 'SUCCESS' });
    const oldClient = curl(['--cacert', ca.cert, '--cert', env.proxy.initClientCert, '--key', env.proxy.initClientKey]);
    expect(oldClient.status).not.toBe(0);
    const oldTrust = curl(['--cacert', env.proxy.initCa, '--cert', client.cert, '--key', client.key]);
    expect(oldTrust.status).not.toBe(0);
  });
});
