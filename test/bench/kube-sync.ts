/**
 * `npx tsx test/bench/kube-sync.ts`: sync of 1,000 Secrets into two real clusters (dc1, dc2 from test/infra), then a
 * no-op resync of the same 1,000, counting requests per cluster (the adapter logs each one at debug level).
 * Targets: the sync under 30 s; the resync makes zero writes and at most one list per namespace per cluster.
 * Prints a table and writes bench-results/kube-sync.json. Figures, not assertions.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { composeLocal } from '../../cli/compose.js';
import { apply } from '../../shared/app/apply.js';
import { MaterialReader } from '../../shared/app/materials.js';
import { syncUnits } from '../../shared/app/sync.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { allUnits } from '../../shared/domain/units.js';
import type { Logger } from '../../shared/ports/logger.js';
import { silentLogger } from '../../shared/ports/logger.js';
import { loadInfraEnv } from '../infra/env.js';

const SECRETS = Number(process.env.BENCH_SECRETS ?? 1000);
const NAMESPACES = 10;
const CLUSTERS = ['dc1', 'dc2'] as const;

interface Counts {
  total: number;
  writes: number;
  lists: Record<string, number>;
  byMethod: Record<string, number>;
}

function countingLogger(): Logger & { counts: Map<string, Counts>; reset(): void } {
  const counts = new Map<string, Counts>();
  const debug = (message: string, fields?: Record<string, unknown>) => {
    if (message !== 'kube request' || !fields) return;
    const cluster = String(fields.cluster);
    const method = String(fields.method);
    const path = String(fields.path);
    let c = counts.get(cluster);
    if (!c) counts.set(cluster, (c = { total: 0, writes: 0, lists: {}, byMethod: {} }));
    c.total++;
    c.byMethod[method] = (c.byMethod[method] ?? 0) + 1;
    if (method !== 'GET') c.writes++;
    const list = /^\/api\/v1\/namespaces\/([^/]+)\/secrets$/.exec(path);
    if (method === 'GET' && list) c.lists[list[1]!] = (c.lists[list[1]!] ?? 0) + 1;
  };
  return { ...silentLogger, debug, counts, reset: () => counts.clear() };
}

/** The infra's kubeconfig (contexts dc1, dc2); `bash test/infra/up.sh kube` starts the clusters. */
async function loadInfra(): Promise<string> {
  return loadInfraEnv({ require: ['kube'] }).kube.kubeconfig;
}

function inventoryText(prefix: string): string {
  const lines = [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    'metadata: {name: kube-bench}',
    'defaults: {restart: none}',
    'clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]',
    'credentials:',
  ];
  for (let i = 0; i < SECRETS; i++)
    lines.push(`  - {name: pw-${i}, type: password, secret: {name: pw-${i}, namespace: ${prefix}-${i % NAMESPACES}}}`);
  return lines.join('\n') + '\n';
}

async function main() {
  const kubeconfig = await loadInfra();
  const prefix = `rekey-bench-${randomBytes(2).toString('hex')}`;
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `${prefix}-${i}`);
  const admins = CLUSTERS.map((c) => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    kc.setCurrentContext(c);
    return kc.makeApiClient(CoreV1Api);
  });
  const state = mkdtempSync(join(tmpdir(), 'rekey-kube-bench-'));
  const inv = loadInventory(inventoryText(prefix));
  const rows: { phase: string; seconds: number; requests: Record<string, Counts> }[] = [];
  try {
    for (const core of admins) for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });

    // Issue into the embedded vault first: the kube figures are for writing Secrets, not for making passwords.
    const issueStart = process.hrtime.bigint();
    const stored = await composeLocal(inv, { stateDir: state, target: { kind: 'none' }, log: silentLogger });
    await apply(stored.deps, inv);
    await stored.close();
    const issueSeconds = Number(process.hrtime.bigint() - issueStart) / 1e9;

    const phase = async (name: string) => {
      const log = countingLogger();
      const rt = await composeLocal(inv, { stateDir: state, target: { kind: 'kube', kubeconfig }, log });
      const start = process.hrtime.bigint();
      const report = await syncUnits(rt.deps, inv, allUnits(inv), new MaterialReader(rt.deps.store, inv));
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      await rt.close();
      rows.push({ phase: name, seconds, requests: Object.fromEntries(log.counts) });
      return report;
    };
    const first = await phase(`sync ${SECRETS} Secrets x ${CLUSTERS.length} clusters`);
    const written = first.secrets.filter((s) => s.change === 'created' || s.change === 'updated').length;
    const again = await phase(`no-op resync of ${SECRETS} x ${CLUSTERS.length}`);
    const rewritten = again.secrets.filter((s) => s.change === 'created' || s.change === 'updated').length;

    const table = rows.map((r) => {
      const per = CLUSTERS.map((c) => r.requests[c]);
      const maxLists = Math.max(0, ...per.flatMap((c) => Object.values(c?.lists ?? {})));
      return {
        phase: r.phase,
        seconds: Number(r.seconds.toFixed(2)),
        'Secrets/s': Number(((SECRETS * CLUSTERS.length) / r.seconds).toFixed(0)),
        requests: per.reduce((n, c) => n + (c?.total ?? 0), 0),
        writes: per.reduce((n, c) => n + (c?.writes ?? 0), 0),
        'max lists per namespace per cluster': maxLists,
      };
    });
    console.table(table);
    console.log(`issuing ${SECRETS} credentials into the embedded vault (not part of the figures): ${issueSeconds.toFixed(2)} s`);
    console.log(`first sync wrote ${written} Secrets; the resync wrote ${rewritten}`);
    const result = {
      when: new Date().toISOString(),
      secrets: SECRETS,
      clusters: CLUSTERS,
      namespacesPerCluster: NAMESPACES,
      targets: { syncSeconds: 30, resyncWrites: 0, listsPerNamespacePerCluster: 1 },
      sync: { ...table[0], written, requestsByCluster: rows[0]!.requests },
      resync: { ...table[1], written: rewritten, requestsByCluster: rows[1]!.requests },
      issueSeconds: Number(issueSeconds.toFixed(2)),
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    };
    mkdirSync('bench-results', { recursive: true });
    writeFileSync('bench-results/kube-sync.json', JSON.stringify(result, null, 2) + '\n');
    console.log('wrote bench-results/kube-sync.json');
  } finally {
    for (const core of admins) for (const name of namespaces) await core.deleteNamespace({ name }).catch(() => undefined);
    rmSync(state, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
