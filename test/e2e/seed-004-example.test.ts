// Seed 004 from examples/pg-backup-api.yaml: the example itself (its names, file names, modes and probes), with
// only what ties it to a host replaced: /etc/tpa/pg-backup-api becomes a temp folder, `apachectl graceful` the
// reload of an Apache of this test's own (the seed 004 proxy's configuration), and barman.example.internal:443 is
// reached on that Apache's loopback port (curl --resolve, the probe's serverName). Then: apply, curl /diagnose with
// each client certificate, a rotation of the proxy certificate verified by its probe, and a rotation of cluster-ca
// under a continuous curl loop with zero failed requests.
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../fixtures/cli.js';
import { privateApache, type PrivateApache } from '../fixtures/private-apache.js';
import { loadInfraEnv } from '../infra/env.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/pg-backup-api.yaml', import.meta.url));
const env = loadInfraEnv({ require: ['proxy'] });
const work = mkdtempSync(join(tmpdir(), 'rekey-seed-004-example-'));
chmodSync(work, 0o755);
const etc = join(work, 'etc-tpa-pg-backup-api');
const state = join(work, 'state');
const inventoryFile = join(work, 'pg-backup-api.yaml');
const HOST = 'barman.example.internal';
let apache: PrivateApache;

const rekey = (...args: string[]) => runMain([...args, '-f', inventoryFile, '--state', state]);
const f = (name: string) => join(etc, name);

function diagnose(client: { cert: string; key: string }, cacert = f('root.crt')) {
  const args = [
    '-sS',
    '--max-time',
    '10',
    '--resolve',
    `${HOST}:${apache.port}:127.0.0.1`,
    '--cacert',
    cacert,
    '--cert',
    client.cert,
    '--key',
    client.key,
  ];
  return spawnSync('curl', [...args, `https://${HOST}:${apache.port}/diagnose`], { encoding: 'utf8', timeout: 30_000 });
}
const user = { cert: f('pg-backup-user.crt'), key: f('pg-backup-user.key') };
const pem = { cert: f('pem/pem-agent.crt'), key: f('pem/pem-agent.key') };

function served(): X509Certificate {
  const r = spawnSync(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${apache.port}`, '-servername', HOST, '-cert', user.cert, '-key', user.key],
    { input: '', encoding: 'utf8', timeout: 30_000 },
  );
  const text = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  if (!text) throw new Error(`nothing served: ${r.stderr}`);
  return new X509Certificate(text);
}

beforeAll(async () => {
  mkdirSync(etc, { recursive: true });
  apache = await privateApache(
    join(work, 'apache'),
    { cert: f('pg-backup-api.crt'), key: f('pg-backup-api.key'), ca: f('root.crt') },
    env.proxy.backendUrl,
  );
  const text = readFileSync(EXAMPLE, 'utf8')
    .replaceAll('/etc/tpa/pg-backup-api', etc)
    .replaceAll('"apachectl graceful"', `"bash ${apache.reloadScript}"`)
    .replaceAll(`tls: "${HOST}:443"`, `tls: "127.0.0.1:${apache.port}", serverName: ${HOST}`);
  writeFileSync(inventoryFile, text);
}, 60_000);

afterAll(() => {
  apache?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('seed 004 from examples/pg-backup-api.yaml', () => {
  it('apply writes the files TPA lays out, with their modes, and starts the proxy through its reload', async () => {
    // Act
    const applied = await rekey('apply');
    // Assess
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    for (const [name, mode] of [
      ['root.crt', 0o644],
      ['pg-backup-api.crt', 0o600],
      ['pg-backup-api.key', 0o600],
      ['pg-backup-user.crt', 0o600],
      ['pg-backup-user.key', 0o600],
      ['pem/pem-agent.key', 0o600],
      ['pem/root.crt', 0o600],
    ] as const) {
      expect(statSync(f(name)).mode & 0o777, name).toBe(mode);
    }
    expect(applied.stdout + applied.stderr).not.toContain('PRIVATE KEY');
  });

  it('curl --cert /diagnose works for pg-backup-user and pem-agent against the served certificate', () => {
    // Act
    const a = diagnose(user);
    const b = diagnose(pem, f('pem/root.crt'));
    // Assess
    expect(a.status, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ status: 'ok', clientVerify: 'SUCCESS' });
    expect(JSON.parse(a.stdout).clientSubject).toContain('CN=pg-backup-user');
    expect(b.status, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).clientSubject).toContain('CN=pem-agent');
    expect(served().subject).toContain(`CN=${HOST}`);
  });

  it('rotating the proxy certificate: the probe (with the pg-backup-user client certificate) verifies the new one is served', async () => {
    // Prepare
    const before = served().fingerprint256;
    // Act
    const rotated = await rekey('rotate', 'pg-backup-api');
    // Assess
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    expect(served().fingerprint256).not.toBe(before);
    expect(served().fingerprint256).toBe(new X509Certificate(readFileSync(f('pg-backup-api.crt'))).fingerprint256);
  });

  it('rotating cluster-ca under a continuous curl loop: zero failed requests, everything ends on the new CA', async () => {
    // Prepare
    const oldCa = new X509Certificate(readFileSync(f('root.crt')));
    const stop = join(work, 'stop');
    const log = join(work, 'curl.log');
    writeFileSync(log, '');
    const loop = spawn(
      'bash',
      [
        '-c',
        `while [ ! -f ${stop} ]; do if out=$(curl -sS --max-time 10 --resolve ${HOST}:${apache.port}:127.0.0.1 --cacert ${f('root.crt')} --cert ${user.cert} --key ${user.key} https://${HOST}:${apache.port}/diagnose 2>&1) && echo "$out" | grep -q '"clientVerify":"SUCCESS"'; then echo ok; else echo "fail $out" | tr '\\n' ' '; echo; fi; done >> ${log}`,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise((r) => loop.once('exit', r));
    const lines = () => readFileSync(log, 'utf8').split('\n').filter(Boolean);
    for (let i = 0; i < 100 && lines().length < 5; i++) await new Promise((r) => setTimeout(r, 100));
    // Act
    const rotated = await rekey('rotate', 'cluster-ca');
    await new Promise((r) => setTimeout(r, 1_000));
    writeFileSync(stop, '');
    await exited;
    // Assess
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const all = lines();
    console.log(`seed 004 example, cluster-ca rotation: ${all.length} curl requests, ${all.filter((l) => l !== 'ok').length} failed`);
    expect(all.filter((l) => l !== 'ok')).toEqual([]);
    expect(all.length).toBeGreaterThan(10);
    const newCa = new X509Certificate(readFileSync(f('root.crt')));
    expect(newCa.fingerprint256).not.toBe(oldCa.fingerprint256);
    expect(served().verify(newCa.publicKey)).toBe(true);
    for (const cert of [user.cert, pem.cert]) expect(new X509Certificate(readFileSync(cert)).verify(newCa.publicKey), cert).toBe(true);
    expect(readFileSync(f('pem/root.crt'), 'utf8').trim()).toBe(readFileSync(f('root.crt'), 'utf8').trim());
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
