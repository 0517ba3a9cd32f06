/**
 * `npx tsx test/bench/report-10k.ts [N]`: the report on N (default 10,000) certificates. Gathers through the real
 * use case over an in-memory store, journal and Secret lists (so the figure is rekey's work, not disk), renders,
 * then loads the page in Chromium (test/infra) and times it: navigation to `load`, and opening the largest group.
 * Prints a table and writes bench-results/report.json. Figures, not assertions.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Deps } from '../../shared/app/deps.js';
import { gatherReport, renderReport } from '../../shared/app/report/index.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { RotationKind, RotationStatus, Trigger, type RotationRecord } from '../../shared/domain/rotation/record.js';
import { encodeMaterial } from '../../shared/domain/store/material.js';
import { Annotation, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../shared/domain/sync/desired.js';
import { allUnits } from '../../shared/domain/units.js';
import type { Cluster, ObservedSecret } from '../../shared/ports/cluster.js';
import type { Journal } from '../../shared/ports/journal.js';
import { silentLogger } from '../../shared/ports/logger.js';
import { Stage, type SecretStore } from '../../shared/ports/secret-store.js';
import { launchChromium } from '../infra/chromium.js';
import { syntheticInventory } from './inventory-gen.js';

const N = Number(process.argv[2] ?? 10_000);
const DAY = 86_400_000;
const now = new Date();
const inventory = loadInventory(
  syntheticInventory({ name: 'bench', certificates: N, authorities: 20, namespaces: 50, clusters: ['dc1', 'dc2'] }),
);
const units = allUnits(inventory);

// Expiries spread over 0..400 days (a few expired), so every urgency and histogram bucket has something.
const values = new Map(
  units.map((u, i) => {
    const notAfter = new Date(now.getTime() + ((i * 7919) % 400) * DAY - 2 * DAY);
    const m = {
      type: 'certificate',
      cert: 'x',
      key: 'x',
      chain: '',
      ca: '',
      notBefore: new Date(notAfter.getTime() - 90 * DAY).toISOString(),
      notAfter: notAfter.toISOString(),
      serial: i.toString(16),
      fingerprint: 'f'.repeat(64),
      keyType: 'ECDSA-P256',
      specHash: 'x',
    } as const;
    return [u.storeName, { versionId: `v-${i}`, stages: [Stage.Current], createdAt: now.toISOString(), value: encodeMaterial(m) }];
  }),
);
const store = { getVersion: async (name: string) => values.get(name), describe: async () => undefined } as unknown as SecretStore;
const records: RotationRecord[] = Array.from({ length: 40 }, (_, i) => ({
  id: `rot-${i}`,
  inventory: 'bench',
  item: `svc-${i}`,
  kind: RotationKind.Leaf,
  status: i < 3 ? RotationStatus.Running : RotationStatus.Completed,
  step: i < 3 ? ('restart' as const) : ('verify' as const),
  attempt: 0,
  revision: 6,
  trigger: Trigger.Schedule,
  reason: 'ExpiresSoon',
  startedAt: new Date(now.getTime() - i * 3_600_000).toISOString(),
  updatedAt: now.toISOString(),
  units: [`rekey/bench/svc-${i}`],
  previousVersions: {},
  restarts: {},
  history: (['issue', 'test', 'promote', 'sync', 'restart', 'verify'] as const).map((step, k) => ({
    step,
    status: 'completed' as const,
    at: new Date(now.getTime() - i * 3_600_000 + (k + 1) * 1500).toISOString(),
    attempt: 0,
  })),
}));
const journal = { listByStatus: async (s: string) => records.filter((r) => r.status === s) } as unknown as Journal;
const secretsOf = (cluster: string, ns: string): ObservedSecret[] =>
  units
    .filter((u) => u.item.secret?.namespace === ns && !(cluster === 'dc2' && Number(u.item.name.slice(4)) % 500 === 0)) // a few missing in dc2: drift
    .map((u) => ({
      name: u.secretName!,
      namespace: ns,
      type: 'kubernetes.io/tls',
      data: {},
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { [Annotation.Version]: values.get(u.storeName)!.versionId },
    }));
const clusters = new Map<string, Cluster>(
  ['dc1', 'dc2'].map((c) => [c, { name: c, secrets: { listSecrets: async (ns: string) => secretsOf(c, ns) } } as unknown as Cluster]),
);
const deps = { store, journal, clusters, clock: { now: () => now }, log: silentLogger } as unknown as Deps;

const t0 = performance.now();
const data = await gatherReport(deps, inventory);
const t1 = performance.now();
const html = renderReport(data);
const t2 = performance.now();

const dir = mkdtempSync(join(tmpdir(), 'rekey-report-bench-'));
const file = join(dir, 'report.html');
writeFileSync(file, html);
const browser = await launchChromium({ viewport: { width: 1280, height: 900 } });
const loads: number[] = [];
let openLargest = 0;
try {
  for (let run = 0; run < 3; run++) {
    const page = await browser.context.newPage();
    const start = performance.now();
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    // A frame after load: layout and paint of what is open have happened.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    loads.push(performance.now() - start);
    if (run === 0) {
      const s = performance.now();
      await page.click('[data-urgency="ok"] > summary');
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      openLargest = performance.now() - s;
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/report-bench-10k.png' });
    }
    await page.close();
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
const result = {
  units: data.units.length,
  bytes: Buffer.byteLength(html),
  gatherMs: Math.round(t1 - t0),
  renderMs: Math.round(t2 - t1),
  chromiumLoadMs: loads.map(Math.round),
  chromiumOpenLargestGroupMs: Math.round(openLargest),
};
console.table({ ...result, chromiumLoadMs: result.chromiumLoadMs.join(', ') });
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/report.json', JSON.stringify(result, null, 2));
