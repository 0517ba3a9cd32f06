/**
 * A scheduled scan of N certificates with nothing due, on moto, before and after the renewal index (issue 14,
 * target 4), in the same run: "before" is the scan without an index (it reads every secret), "reconcile" the first
 * scan with the index (a full one: reads everything, checks the rows, marks the inventory), "after" the next scan
 * (the rows due, nothing else). Counts AWS calls per API and times each. Writes bench-results/scan-index.json.
 *
 *   AWS_ENDPOINT_URL=http://127.0.0.1:5055 npx tsx test/bench/scan-index.ts [--units 10000] [--index-only]
 *
 * `--index-only` seeds no secrets: only the index rows (BatchWriteItem, 25 a call, none due) and the reconcile mark of
 * the inventory, then measures the scheduled scan with nothing due. That such a scan reads no secret is what it
 * shows (it would fail to find them); it writes bench-results/scan-index-<units>.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { countAwsCalls } from '../../shared/adapters/aws/call-counter.js';
import { createAwsAdapters } from '../../shared/adapters/aws/index.js';
import { provisionAwsResources } from '../../shared/adapters/aws/provision.js';
import { apply } from '../../shared/app/apply.js';
import { mapLimit } from '../../shared/app/concurrency.js';
import type { Deps } from '../../shared/app/deps.js';
import { newMaterial, storeTags } from '../../shared/app/issuance.js';
import { MaterialReader } from '../../shared/app/materials.js';
import { inventoryDigest, renewalEntryOf } from '../../shared/app/renewals.js';
import { scan } from '../../shared/app/scan.js';
import { LIMITS } from '../../shared/domain/inventory/limits.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { encodeMaterial } from '../../shared/domain/store/material.js';
import { allUnits } from '../../shared/domain/units.js';
import { silentLogger } from '../../shared/ports/logger.js';
import type { RenewalEntry } from '../../shared/ports/renewal-index.js';
import { issuerRegistry } from '../../shared/adapters/issuers/registry.js';

if (!process.env.AWS_ENDPOINT_URL) throw new Error('set AWS_ENDPOINT_URL to moto');
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

const at = process.argv.indexOf('--units');
const n = at > 0 ? Number(process.argv[at + 1]) : 10_000;
const indexOnly = process.argv.includes('--index-only');
const prefix = `scanidx-${Date.now().toString(36)}`;
const r = await provisionAwsResources({ prefix });
// An inventory holds at most 50,000 certificates: past that (index-only), per-replica ones, one unit per replica.
const replicas = indexOnly ? Math.ceil(n / LIMITS.items) : 1;
const perReplica = (i: number) => (replicas > 1 ? `, perReplica: {statefulSet: c${i}, replicas: ${replicas}}` : '');
const certs = Array.from(
  { length: Math.ceil(n / replicas) },
  (_, i) => `  - {name: c${i}, issuer: ca, usage: server, commonName: c${i}, secret: {name: c${i}-tls, namespace: bench}${perReplica(i)}}`,
).join('\n');
const inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${prefix}}
defaults: {key: ECDSA-P256, validity: 2160h, renewBefore: 720h}
authorities: [{name: ca, commonName: scan bench ca, validity: 87600h}]
certificates:
${certs}
`);
const aws = createAwsAdapters({ stepQueueUrl: r.stepQueueUrl, journalTable: r.journalTable });
const counts = new Map<string, number>();
countAwsCalls(aws, counts);
const noop = { enqueue: () => Promise.resolve() };
const base: Deps = {
  store: aws.store,
  issuers: issuerRegistry({ store: aws.store, inventory: 'bench' }),
  journal: aws.journal,
  queue: noop,
  events: { publish: () => Promise.resolve() },
  clock: { now: () => new Date() },
  log: silentLogger,
  clusters: new Map(),
};
const indexed: Deps = { ...base, renewals: aws.journal };

if (indexOnly) {
  // Rows only, due in 60 days, and the mark a full reconcile of this inventory would leave (not counted).
  const t0 = Date.now();
  const renewAt = new Date(Date.now() + 60 * 86_400_000).toISOString();
  const rows = allUnits(inventory).map((u) => ({ unit: u.storeName, renewAt, versionId: randomUUID() }));
  await aws.journal.putRenewals(inventory.name, rows);
  // Digest of a copy: the scans below compute it as a cold function's first scan does (a warm one reuses its own).
  await aws.journal.markReconciled(inventory.name, { digest: inventoryDigest({ ...inventory }), reconciledAt: new Date().toISOString() });
  const seedMs = Date.now() - t0;
  console.log(`scheduled scan of ${rows.length} indexed units with nothing due, on moto (rows written in ${(seedMs / 1000).toFixed(0)} s)`);
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await measure(`with index, run ${i + 1}`, indexed));
  const secretReads = runs.reduce((a, x) => a + Object.entries(x.calls).filter(([k]) => k.startsWith('SecretsManager')).length, 0);
  if (secretReads) throw new Error('the scan with nothing due read Secrets Manager');
  const median = [...runs].sort((a, b) => a.ms - b.ms)[1]!;
  // What of a scan's time is this process's own work: the inventory digest it compares with the mark.
  const d0 = process.cpuUsage();
  inventoryDigest({ ...inventory });
  const d1 = process.cpuUsage(d0);
  const digestMs = Math.round((d1.user + d1.system) / 1000);
  console.log(`    of which the inventory digest (CPU, this process): ${digestMs} ms`);
  mkdirSync(resolve(import.meta.dirname, '../../bench-results'), { recursive: true });
  writeFileSync(
    resolve(import.meta.dirname, `../../bench-results/scan-index-${rows.length}.json`),
    JSON.stringify(
      { units: rows.length, indexOnly: true, seedMs, runs, medianMs: median.ms, calls: median.total, digestMs, loadavg: loadavg() },
      null,
      2,
    ),
  );
  process.exit(0);
}

// Seeding (not counted): the CA through apply, each leaf with one write (its material issued here), rows in batches.
const t0 = Date.now();
const caOnly = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${prefix}}
defaults: {key: ECDSA-P256}
authorities: [{name: ca, commonName: scan bench ca, validity: 87600h}]
`);
await apply(base, caOnly);
const reader = new MaterialReader(aws.store, inventory);
const leaves = allUnits(inventory).filter((u) => u.item.kind === 'certificate');
const entries: RenewalEntry[] = [];
await mapLimit(leaves, 8, async (unit) => {
  const versionId = randomUUID();
  const material = await newMaterial(base, unit, reader, versionId);
  await aws.store.putCurrent(unit.storeName, versionId, encodeMaterial(material), { tags: storeTags(inventory, unit) });
  const e = renewalEntryOf(unit, versionId, material);
  if (e) entries.push(e);
});
await aws.journal.putRenewals(inventory.name, entries);
const seedMs = Date.now() - t0;

async function measure(label: string, deps: Deps, options: { full?: boolean } = {}) {
  counts.clear();
  const load = loadavg()[0] ?? 0;
  const start = Date.now();
  const result = await scan(deps, inventory, options);
  const ms = Date.now() - start;
  const calls = Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
  const total = Object.values(calls).reduce((a, b) => a + b, 0);
  if (result.started.length) throw new Error(`${label}: ${result.started.length} rotation(s) started; nothing should be due`);
  console.log(
    `${label.padEnd(34)} mode ${result.mode.padEnd(4)} ${String(total).padStart(7)} calls ${String(ms).padStart(8)} ms  load ${load.toFixed(1)}`,
  );
  for (const [k, v] of Object.entries(calls)) console.log(`    ${k.padEnd(40)} ${String(v)}`);
  return { mode: result.mode, total, ms, calls, load, reindexed: result.reindexed };
}

console.log(`scan of ${n} certificates + 1 CA with nothing due, on moto (seeded in ${(seedMs / 1000).toFixed(0)} s)`);
const before = await measure('before: no renewal index', base);
const reconcile = await measure('with index, first (full reconcile)', indexed);
const after = await measure('with index, next (what is due)', indexed);
mkdirSync(resolve(import.meta.dirname, '../../bench-results'), { recursive: true });
writeFileSync(
  resolve(import.meta.dirname, '../../bench-results/scan-index.json'),
  JSON.stringify({ units: n + 1, seedMs, before, reconcile, after, loadavg: loadavg() }, null, 2),
);
