// Host-file reloads against the real Apache of the test infrastructure (issue 9): a failing reload stays owed and
// is run again by every apply until it succeeds; a hanging one is killed at `files.reloadTimeout` (with what it
// started) and the state lock is released; a rotation whose reload fails is not reported completed; modes drift
// back. The reload is a script whose behaviour a file selects: ok (the infrastructure's graceful reload), fail
// (prints the private key, exits 1) or hang.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInfraEnv, runReload } from '../infra/env.js';
import { runMain, spawnCli } from '../fixtures/cli.js';

const env = loadInfraEnv({ require: ['proxy'] });
const work = mkdtempSync(join(tmpdir(), 'rekey-host-reload-'));
const state = join(work, 'state');
const clientDir = join(work, 'clients');
const inventoryFile = join(work, 'inventory.yaml');
const behaviour = join(work, 'behaviour');
const hangPid = join(work, 'hang.pid');
const reloadScript = join(work, 'reload.sh');
const serverKey = join(env.proxy.tlsDir, 'server.key');

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: host-reload}
authorities:
  - name: proxy-ca
    commonName: host-reload CA
    key: ECDSA-P256
    files: {dir: ${env.proxy.tlsDir}, cert: client-ca.crt, mode: "0644", reload: "sh ${reloadScript}", reloadTimeout: 3s}
certificates:
  - name: proxy-server
    issuer: proxy-ca
    usage: server
    commonName: localhost
    dnsNames: [localhost]
    ipAddresses: [127.0.0.1]
    files: {dir: ${env.proxy.tlsDir}, cert: server.crt, key: server.key, mode: "0600", reload: "sh ${reloadScript}", reloadTimeout: 3s}
  - name: reload-client
    issuer: proxy-ca
    usage: client
    commonName: reload-client
    files: {dir: ${clientDir}, cert: client.crt, key: client.key, ca: root.crt, mode: "0600"}
`;

const SCRIPT = `case "$(cat '${behaviour}')" in
  ok) exec ${env.proxy.reloadCmd} ;;
  fail) echo "config test failed"; cat '${serverKey}'; exit 1 ;;
  hang) sleep 600 & echo $! > '${hangPid}'; wait ;;
esac
`;

const rekey = (...args: string[]) => runMain([...args, '-f', inventoryFile, '--state', state]);
const setBehaviour = (b: 'ok' | 'fail' | 'hang') => writeFileSync(behaviour, b);
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
const fileFingerprint = () => fingerprint(readFileSync(join(env.proxy.tlsDir, 'server.crt'), 'utf8'));

/** The certificate Apache serves now. */
function servedFingerprint(): string {
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${new URL(env.proxy.url).port}`, '-servername', 'localhost'], {
    input: '',
    encoding: 'utf8',
    timeout: 30_000,
  });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  if (!pem) throw new Error(`no certificate served: ${r.stderr}`);
  return fingerprint(pem);
}

function diagnose(): { status: number | null; stdout: string; stderr: string } {
  const args = [
    '-sS',
    '--max-time',
    '10',
    '--cacert',
    join(clientDir, 'root.crt'),
    '--cert',
    join(clientDir, 'client.crt'),
    '--key',
    join(clientDir, 'client.key'),
  ];
  return spawnSync('curl', [...args, `${env.proxy.url}/diagnose`], { encoding: 'utf8', timeout: 30_000 });
}

/** Running and not a zombie (orphans of a killed shell may stay unreaped in a container). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const reloadRuns = () => (readFileSync(join(state, 'reload.log'), 'utf8').match(/^--- \S+ reload: /gm) ?? []).length;

beforeAll(() => {
  writeFileSync(inventoryFile, INVENTORY);
  writeFileSync(reloadScript, SCRIPT);
  setBehaviour('ok');
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

describe('host files: reloads against the real Apache', () => {
  it('a failing reload: apply exits 1, Apache still serves the old certificate, and the key it printed is not shown', async () => {
    // Prepare
    const before = servedFingerprint();
    setBehaviour('fail');
    // Act
    const applied = await rekey('apply');
    // Assess
    expect(applied.code).toBe(1);
    expect(applied.stdout).toMatch(
      /reload owed for proxy-ca, proxy-server \(files written, not served yet\): reload command "sh .*" exited 1/,
    );
    expect(applied.stdout + applied.stderr).not.toContain('PRIVATE KEY');
    expect(fileFingerprint()).not.toBe(before);
    expect(servedFingerprint()).toBe(before);
    expect(readFileSync(join(state, 'reload.log'), 'utf8')).toContain('[PRIVATE KEY removed]');
  });

  it('the second apply runs the owed reload again (exit 1 again); plan and status show it owed', async () => {
    // Act
    const again = await rekey('apply');
    const planned = await rekey('plan', '--json');
    const status = await rekey('status');
    // Assess
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/0 version\(s\) made/);
    expect(again.stdout).toMatch(/reload owed for/);
    expect(reloadRuns()).toBe(2);
    expect(JSON.parse(planned.stdout).actions).toEqual([
      { action: 'reload', kind: 'reload', name: 'proxy-ca, proxy-server', reason: 'ReloadOwed', command: `sh ${reloadScript}` },
    ]);
    expect(status.stdout).toMatch(/reload owed since \S+ \(2 failed run\(s\)\): sh /);
  });

  it('a hanging reload is killed at its timeout with what it started, and the state lock is released', async () => {
    // Prepare
    setBehaviour('hang');
    // Act: a real process, so the lock and the process group are real
    const hung = await spawnCli(['apply', '-f', inventoryFile, '--state', state]);
    const next = await rekey('plan', '--json');
    // Assess
    expect(hung.status, hung.stdout + hung.stderr).toBe(1);
    expect(hung.stdout).toMatch(/timed out after 3s \(process group killed\)/);
    expect(running(Number(readFileSync(hangPid, 'utf8').trim()))).toBe(false);
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout).actions.map((a: { reason: string }) => a.reason)).toEqual(['ReloadOwed']);
  });

  it('once the reload works, the next apply runs it: Apache serves the new certificate and clients get through', async () => {
    // Prepare
    setBehaviour('ok');
    // Act
    const applied = await rekey('apply');
    const quiet = await rekey('apply');
    // Assess
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`owed reload done: sh ${reloadScript}`);
    expect(servedFingerprint()).toBe(fileFingerprint());
    const r = diagnose();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'ok', clientVerify: 'SUCCESS' });
    expect(quiet.code).toBe(0);
    expect(reloadRuns()).toBe(4);
    expect((await rekey('status')).stdout).not.toContain('reload owed');
  });

  it('a rotation whose reload fails is not reported completed; the next apply makes Apache serve the new certificate', async () => {
    // Prepare
    const before = servedFingerprint();
    setBehaviour('fail');
    // Act
    const rotated = await rekey('rotate', 'proxy-server');
    const servedAfterRotation = servedFingerprint();
    setBehaviour('ok');
    const applied = await rekey('apply');
    // Assess
    expect(rotated.code).toBe(1);
    expect(rotated.stdout).toMatch(/rotation \S+ failed: files written, but not reloaded/);
    expect(servedAfterRotation).toBe(before);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(servedFingerprint()).toBe(fileFingerprint());
    expect(servedFingerprint()).not.toBe(before);
  });

  it('a key chmod-ed to 0644 is shown by plan and set back by apply, without a reload', async () => {
    // Prepare
    const key = join(clientDir, 'client.key');
    chmodSync(key, 0o644);
    const runs = reloadRuns();
    // Act
    const planned = await rekey('plan', '--json');
    const applied = await rekey('apply');
    // Assess
    expect(JSON.parse(planned.stdout).actions).toEqual([
      { action: 'chmod', kind: 'file', name: 'reload-client', reason: 'ModeDrifted', path: key },
    ]);
    expect(applied.code).toBe(0);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(reloadRuns()).toBe(runs);
  });
});
