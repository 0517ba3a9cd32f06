import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInfraEnv } from '../infra/env.js';
import {
  clientFiles,
  mintToken,
  rekeyOn,
  secretData,
  startProcess,
  startServe,
  stopProcess as stop,
  type ServeProcess,
  type StartedProcess,
} from '../fixtures/serve-client.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { Admin, deploymentObject, eventually, kubeconfigPath, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';

/**
 * Alert-driven remediation with the real Alertmanager (built by test/infra/components/alertmanager.sh): its webhook
 * receiver points at `rekey serve` (HTTPS with the CA of the serving Secret, bearer token from a file, as
 * `http_config.authorization` sends it); an alert posted to Alertmanager's own API (v2) is routed to rekey, whose
 * rule rotates the item the alert names: the Secret in dc1 gets a new certificate and its consumer restarts.
 */

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
  let served: ServeProcess | undefined;
  let alertmanager: StartedProcess | undefined;
  let amUrl: string;

  const rekey = (args: readonly string[]) => rekeyOn(state)(args);
  const secret = async (name: string) => (await secretData(admin, ns, name)) ?? {};

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

    served = await startServe([
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
    ]);
    const token = await mintToken(rekey, inv, 'alerts:write', { ttl: '1h', subject: 'alertmanager' });
    const { caFile, tokenFile } = await clientFiles(dir, (await secret('rekey-api-tls'))['ca.crt']!, token);

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
      - url: https://localhost:${served.https}/v1/alerts/alertmanager
        send_resolved: false
        http_config:
          authorization: {type: Bearer, credentials_file: ${tokenFile}}
          tls_config: {ca_file: ${caFile}}
`,
    );
    alertmanager = await startProcess(
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
    const before = new X509Certificate((await secret('web-tls'))['tls.crt']!).fingerprint256;
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
        const fp = new X509Certificate((await secret('web-tls'))['tls.crt']!).fingerprint256;
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
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{"time"'))
      .map((l) => JSON.parse(l) as { message: string; decision?: string; rule?: string; item?: string; rotationId?: string });
    const decided = lines.filter((l) => l.message === 'remediation decided');
    expect(decided).toEqual([
      expect.objectContaining({ decision: 'acted', rule: 'tls-expiring', item: 'web', rotationId: expect.any(String) }),
    ]);
    expect(served!.stdout() + served!.stderr()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });
});
