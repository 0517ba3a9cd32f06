import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, CONTEXTS, deploymentObject, kubeconfigPath, podSpec, rolledOut, uniqueName } from './support.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO, 'cli/main.ts');

/** `rekey ARGV` as its own process, with the kube adapter's request log on stderr (REKEY_LOG_LEVEL=debug). */
async function rekey(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 240_000) {
  const r = await run(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, REKEY_LOG_LEVEL: 'debug', ...env },
    cwd: REPO,
    timeoutMs,
  });
  const requests = r.stderr
    .split('\n')
    .map((l) => /^debug: kube request cluster=(\S+) method=(\S+) path=(\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ cluster: m[1]!, method: m[2]!, path: m[3]! }));
  return { ...r, requests, writes: requests.filter((q) => q.method !== 'GET') };
}

/** The CLI against the two clusters: apply twice (second apply writes nothing), rotate with restarts. */
describe('rekey CLI against dc1 and dc2', () => {
  const ns = uniqueName('rekey-cli');
  let admins: Record<(typeof CONTEXTS)[number], Admin>;
  let dir: string;
  let kubeconfig: string;
  let inv: string;
  let state: string;

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    dir = await makeTempDir();
    state = join(dir, 'state');
    inv = join(dir, 'inventory.yaml');
    await writeFile(
      inv,
      `apiVersion: rekey/v1
kind: Inventory
metadata: {name: cli-it}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities: [{name: root, commonName: cli-it root, key: ECDSA-P256}]
certificates:
  - name: web
    issuer: root
    usage: server
    commonName: web
    dnsNames: [web.${ns}.svc]
    secret: {name: web-tls, namespace: ${ns}}
    consumers: [Deployment/web]
    restart: {policy: together, within: 3m}
credentials:
  - {name: db, type: password, secret: {name: db-password, namespace: ${ns}}, consumers: [Deployment/web], restart: rolling}
`,
    );
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    for (const a of Object.values(admins)) {
      await a.createNamespace(ns);
      await a.apply(deploymentObject(ns, 'web', {}, podSpec({ volume: 'web-tls', env: 'db-password' })));
      await a.apply(deploymentObject(ns, 'other', {}, podSpec({ volume: 'web-tls' })));
      await rolledOut(a, ns, 'web');
    }
  });
  afterAll(async () => {
    for (const a of Object.values(admins ?? {})) await a.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('apply writes the Secrets into both clusters; a second apply makes no write request', async () => {
    // Act
    const first = await rekey(['--state', state, 'apply', '-f', inv, '--kubeconfig', kubeconfig]);
    const second = await rekey(['--state', state, 'apply', '-f', inv, '--kubeconfig', kubeconfig]);
    // Assess
    expect(first.status, first.stderr).toBe(0);
    expect(first.writes.map((w) => `${w.cluster} ${w.method} ${w.path}`).sort()).toEqual(
      CONTEXTS.flatMap((c) => [`${c} POST /api/v1/namespaces/${ns}/secrets`, `${c} POST /api/v1/namespaces/${ns}/secrets`]),
    );
    for (const c of CONTEXTS) {
      const names = (await admins[c].core.listNamespacedSecret({ namespace: ns })).items.map((s) => s.metadata!.name).sort();
      expect(names).toEqual(['db-password', 'web-tls']);
    }
    expect(second.status, second.stderr).toBe(0);
    expect(second.writes).toEqual([]);
    for (const c of CONTEXTS)
      expect(second.requests.filter((q) => q.cluster === c && q.path === `/api/v1/namespaces/${ns}/secrets`)).toHaveLength(1);
    expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toMatch(/PRIVATE KEY/);
  });

  it('plan warns, per cluster, about the workload that uses the Secret without being listed', async () => {
    // Act
    const r = await rekey(['--state', state, '--json', 'plan', '-f', inv, '--kubeconfig', kubeconfig]);
    // Assess
    expect(r.status, r.stderr).toBe(0);
    const warnings = (JSON.parse(r.stdout) as { warnings: { name: string; cluster?: string; message: string }[] }).warnings.filter((w) =>
      w.message.includes('is not a consumer'),
    );
    expect(warnings.map((w) => `${w.cluster} ${w.name} ${w.message.split(' ')[0]}`).sort()).toEqual([
      `dc1 web Deployment/${ns}/other`,
      `dc2 web Deployment/${ns}/other`,
    ]);
    expect(r.writes).toEqual([]);
  });

  it('apply that re-issues a certificate restarts its consumers through SecretSynced -> RestartRequested -> worker', async () => {
    // Prepare: a new DNS name changes what the certificate must say, so apply issues a new version
    const { readFile } = await import('node:fs/promises');
    const changed = join(dir, 'changed.yaml');
    await writeFile(changed, (await readFile(inv, 'utf8')).replace(`dnsNames: [web.${ns}.svc]`, `dnsNames: [web.${ns}.svc, web]`));
    const before = Object.fromEntries(
      await Promise.all(CONTEXTS.map(async (c) => [c, (await admins[c].deployment(ns, 'web')).metadata!.generation!] as const)),
    );
    // Act
    const r = await rekey(['--state', state, 'apply', '-f', changed, '--kubeconfig', kubeconfig]);
    // Assess
    expect(r.status, r.stderr).toBe(0);
    for (const c of CONTEXTS) {
      const web = await rolledOut(admins[c], ns, 'web', 5_000);
      expect(web.metadata!.generation).toBe(before[c]! + 1);
    }
    const events = (await readFile(join(state, 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { 'detail-type': string; detail: Record<string, unknown> })
      .filter((e) => e.detail.item === 'web' && !e.detail.rotationId);
    const kinds = events.map(
      (e) => `${e['detail-type']} ${String(e.detail.cluster)}${e.detail.change ? ` ${String(e.detail.change)}` : ''}`,
    );
    expect(kinds.filter((k) => k.startsWith('SecretSynced') && k.endsWith('updated')).sort()).toEqual([
      'SecretSynced dc1 updated',
      'SecretSynced dc2 updated',
    ]);
    expect(kinds.filter((k) => k.startsWith('Restart')).sort()).toEqual([
      'RestartCompleted dc1',
      'RestartCompleted dc2',
      'RestartRequested dc1',
      'RestartRequested dc2',
    ]);
    await writeFile(inv, await readFile(changed, 'utf8')); // later tests rotate from here
  });

  it('rotate restarts the listed consumer in both clusters and nothing else, and exits 0', async () => {
    // Prepare
    const before = Object.fromEntries(
      await Promise.all(CONTEXTS.map(async (c) => [c, (await admins[c].deployment(ns, 'other')).metadata!.generation] as const)),
    );
    const webBefore = Object.fromEntries(
      await Promise.all(CONTEXTS.map(async (c) => [c, (await admins[c].deployment(ns, 'web')).metadata!.generation!] as const)),
    );
    // Act
    const r = await rekey(['--state', state, 'rotate', 'web', '-f', inv, '--kubeconfig', kubeconfig]);
    // Assess
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/completed\s+restart/);
    for (const c of CONTEXTS) {
      expect((await admins[c].deployment(ns, 'other')).metadata!.generation).toBe(before[c]);
      const web = await rolledOut(admins[c], ns, 'web', 5_000);
      expect(web.metadata!.generation).toBe(webBefore[c]! + 1);
      expect(web.spec?.template?.metadata?.annotations?.['rekey/versions']).toMatch(/^[0-9a-f]{64}$/);
    }
    const patches = r.writes.filter((w) => w.method === 'PATCH' && w.path.includes('/deployments/'));
    expect(patches.map((p) => `${p.cluster} ${p.path}`).sort()).toEqual(
      CONTEXTS.map((c) => `${c} /apis/apps/v1/namespaces/${ns}/deployments/web`),
    );
  });

  it('rotate fails loudly (exit 1) when a rollout in dc2 is held back past within', async () => {
    // Prepare
    await admins.dc2.mergePatchDeployment(ns, 'web', { spec: { paused: true } });
    const shortInv = join(dir, 'short.yaml');
    const { readFile } = await import('node:fs/promises');
    await writeFile(shortInv, (await readFile(inv, 'utf8')).replace('within: 3m', 'within: 20s'));
    const started = Date.now();
    // Act
    const r = await rekey(['--state', state, 'rotate', 'web', '-f', shortInv, '--kubeconfig', kubeconfig]);
    // Assess
    expect(r.status).toBe(1);
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(r.stdout + r.stderr).toMatch(/dc2/);
    expect(r.stderr).toMatch(/restart failed/);
    await admins.dc2.mergePatchDeployment(ns, 'web', { spec: { paused: false } });
  });
});
