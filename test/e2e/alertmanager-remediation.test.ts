import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInfraEnv } from '../infra/env.js';
import { run } from '../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { Admin, deploymentObject, eventually, kubeconfigPath, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';

/**
 * Alert-driven remediation with the real Alertmanager (built by test/infra/components/alertmanager.sh): its webhook
 * receiver points at `rekey serve` (HTTPS with the CA of the serving Secret, bearer token from a file, as
 * `http_config.authorization` sends it); an alert posted to Alertmanager's own API (v2) is routed to rekey, whose
 * rule rotates the item the alert names: the Secret in dc1 gets a new certificate and its consumer restarts.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'cli/main.ts');

interface Proc {
  readonly child: ChildProcess;
  readonly out: () => string;
}

function start(cmd: string, args: readonly string[], ready: (out: string) => boolean, what: string): Promise<Proc> {
  const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const take = (c: Buffer) => (out += c.toString());
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`${what} exited ${code}: ${out}`)));
    const check = () => {
      if (!ready(out)) return;
      clearTimeout(timer);
      resolve({ child, out: () => out });
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
  });
}

async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

describe('Alertmanager -> rekey serve -> rotation in dc1', () => {
  const ns = uniqueName('rekey-am');
  let dir: string;
  let state: string;
  let inv: string;
  let admin: Admin;
  let served: Proc | undefined;
  let alertmanager: Proc | undefined;
  let amUrl: string;

  const rekey = (args: readonly string[]) =>
    run(process.execPath, ['--import', 'tsx', CLI, '--state', state, ...args], { cwd: REPO, timeoutMs: 120_000 });
  const secretData = async (name: string) => {
    const s = await admin.core.readNamespacedSecret({ name, namespace: ns });
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };

  beforeAll(async () => {
    const env = loadInfraEnv({ require: ['kube', 'alertmanager'] });
    const kubeconfig = await kubeconfigPath();
    admin = await Admin.of('dc1');
    await admin.createNamespace(ns);
    dir = await makeTempDir('rekey-alertmanager-');
    state = join(dir, 'state');
    inv = join(dir, 'alerts.yaml');
    await writeFile(
      inv,
      `apiVersion: rekey/v1
kind: Inventory
metadata: {name: am-e2e}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: ca, commonName: alertmanager e2e CA, key: ECDSA-P256}]
certificates:
  - {name: api-server, issuer: ca, usage: server, commonName: rekey-api, dnsNames: [localhost], ipAddresses: [127.0.0.1], secret: {name: rekey-api-tls, namespace: ${ns}}}
  - name: web
    issuer: ca
    usage: server
    commonName: web
    dnsNames: [web.${ns}.svc]
    secret: {name: web-tls, namespace: ${ns}}
    consumers: [Deployment/web]
    restart: {policy: together, within: 2m}
alerts:
  - name: tls-expiring
    match: {alertmanager: {alertname: TLSCertExpiringSoon, labels: {severity: critical}}}
    action: rotate
    itemLabel: rekey_item
`,
    );
    const applied = await rekey(['apply', '-f', inv, '--kubeconfig', kubeconfig]);
    expect(applied.status, applied.stderr).toBe(0);
    await admin.apply(deploymentObject(ns, 'web', { 'rekey-test': 'true' }, podSpec({ volume: 'web-tls' })));
    await rolledOut(admin, ns, 'web');

    served = await start(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI,
        '--state',
        state,
        'serve',
        '-f',
        inv,
        '--kubeconfig',
        kubeconfig,
        '--tls-secret',
        `${ns}/rekey-api-tls`,
        '--http-port',
        '0',
        '--grpc-port',
        'off',
        '--address',
        '127.0.0.1',
      ],
      (out) => out.includes('{"listening"'),
      'rekey serve',
    );
    const listening = JSON.parse(
      served
        .out()
        .split('\n')
        .find((l) => l.startsWith('{"listening"'))!,
    ) as { listening: { https: number } };
    const minted = await rekey(['token', '-f', inv, '--scope', 'alerts:write', '--ttl', '1h', '--subject', 'alertmanager']);
    expect(minted.status, minted.stderr).toBe(0);
    await writeFile(join(dir, 'token'), minted.stdout.trim(), { mode: 0o600 });
    await writeFile(join(dir, 'ca.crt'), (await secretData('rekey-api-tls'))['ca.crt']!);

    const port = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    await writeFile(
      join(dir, 'alertmanager.yml'),
      `route:
  receiver: rekey
  group_by: [alertname, rekey_item]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: rekey
    webhook_configs:
      - url: https://localhost:${listening.listening.https}/v1/alerts/alertmanager
        send_resolved: false
        http_config:
          authorization: {type: Bearer, credentials_file: ${join(dir, 'token')}}
          tls_config: {ca_file: ${join(dir, 'ca.crt')}}
`,
    );
    alertmanager = await start(
      env.alertmanagerPath,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'am-data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
      ],
      (out) => out.includes('Listening on') || out.includes('listening on'),
      'alertmanager',
    );
    await eventually('alertmanager ready', async () => ((await fetch(`${amUrl}/-/ready`)).ok ? true : undefined), 30_000);
  }, 240_000);

  afterAll(async () => {
    await stop(alertmanager);
    await stop(served);
    await admin?.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('an alert posted to Alertmanager reaches rekey, which rotates the item it names and restarts its consumer', async () => {
    // Prepare
    const before = new X509Certificate((await secretData('web-tls'))['tls.crt']!).fingerprint256;
    const templateBefore = (await admin.deployment(ns, 'web')).spec?.template.metadata?.annotations ?? {};

    // Act
    const posted = await fetch(`${amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: { alertname: 'TLSCertExpiringSoon', severity: 'critical', rekey_item: 'web' },
          annotations: { summary: 'web TLS expires soon' },
          startsAt: new Date().toISOString(),
        },
      ]),
    });
    expect(posted.status).toBe(200);

    // Assess
    const after = await eventually(
      'a new certificate in the web-tls Secret',
      async () => {
        const fp = new X509Certificate((await secretData('web-tls'))['tls.crt']!).fingerprint256;
        return fp !== before ? fp : undefined;
      },
      120_000,
    );
    expect(after).not.toBe(before);
    const annotations = await eventually(
      'the web Deployment restarted',
      async () => {
        const a = (await admin.deployment(ns, 'web')).spec?.template.metadata?.annotations ?? {};
        return a['rekey/restartedAt'] && a['rekey/restartedAt'] !== templateBefore['rekey/restartedAt'] ? a : undefined;
      },
      120_000,
    );
    expect(annotations['rekey/restartedAt']).toBeDefined();
    await rolledOut(admin, ns, 'web');
    const lines = served!
      .out()
      .split('\n')
      .filter((l) => l.startsWith('{"time"'))
      .map((l) => JSON.parse(l) as { message: string; decision?: string; rule?: string; item?: string; rotationId?: string });
    const decided = lines.filter((l) => l.message === 'remediation decided');
    expect(decided).toEqual([
      expect.objectContaining({ decision: 'acted', rule: 'tls-expiring', item: 'web', rotationId: expect.any(String) }),
    ]);
    expect(served!.out()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });
});
