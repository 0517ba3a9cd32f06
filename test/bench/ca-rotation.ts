/**
 * Authority rotation of one CA with 100 leaves in two clusters (embedded runtime: file vault, manifests on disk):
 * time per step of the ten-step machine, Secret writes per step and in all, restart requests (workloads asked to
 * restart per cluster; with manifests on disk nobody waits for rollouts, so these times exclude rollout waits).
 * Run alone (`npx tsx test/bench/ca-rotation.ts`, writes bench-results/ca-rotation.json) or from `npm run bench`.
 * Figures, not assertions.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { apply } from '../../shared/app/apply.js';
import { executeStep, startRotation } from '../../shared/app/rotation/index.js';
import { EventType } from '../../shared/domain/events/types.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../shared/domain/rotation/record.js';
import type { DesiredSecret, ObservedSecret } from '../../shared/ports/cluster.js';
import { localRuntime } from '../fixtures/runtime.js';

const LEAVES = 100;
const CLUSTERS = ['dc1', 'dc2'] as const;

function inventoryText(): string {
  const lines = [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    'metadata: {name: ca-bench}',
    'defaults: {key: ECDSA-P256, validity: 2160h, renewBefore: 720h}',
    'clusters:',
    ...CLUSTERS.map((c) => `  - {name: ${c}}`),
    'authorities:',
    '  - {name: ca, commonName: bench ca, validity: 87600h, secret: {name: bench-ca, namespace: shared}, consumers: [Deployment/gateway]}',
    'certificates:',
  ];
  for (let i = 0; i < LEAVES; i++) {
    lines.push(
      `  - {name: svc-${i}, issuer: ca, usage: server, commonName: svc-${i}, dnsNames: [svc-${i}], secret: {name: svc-${i}-tls, namespace: ns-${i % 10}}, consumers: [Deployment/svc-${i}]}`,
    );
  }
  return lines.join('\n') + '\n';
}

export interface CaRotationFigures {
  readonly leaves: number;
  readonly clusters: number;
  readonly totalSeconds: number;
  readonly secretWrites: number;
  readonly restartRequests: number;
  readonly workloadsToRestart: number;
  readonly steps: { step: string; seconds: number; secretWrites: number; runs: number }[];
}

/** Runs the bench in a temp folder and returns its figures. */
export async function caRotationBench(): Promise<CaRotationFigures> {
  const root = mkdtempSync(join(tmpdir(), 'rekey-ca-bench-'));
  try {
    const inventory = loadInventory(inventoryText(), 'ca-bench.yaml');
    const rt = localRuntime(inventory, root);
    await apply(rt.deps, inventory);
    let writes = 0;
    for (const w of rt.writers.values()) {
      const inner = w.writeSecret.bind(w);
      w.writeSecret = (s: DesiredSecret, o: { adopt: boolean; expected?: ObservedSecret }) => {
        writes++;
        return inner(s, o);
      };
    }
    const record = await startRotation(rt.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'bench' });
    const steps = new Map<string, { seconds: number; secretWrites: number; runs: number }>();
    const started = process.hrtime.bigint();
    await rt.queue.drain(async (m) => {
      const before = writes;
      const t = process.hrtime.bigint();
      await executeStep(rt.deps, inventory, m);
      const s = steps.get(m.step) ?? { seconds: 0, secretWrites: 0, runs: 0 };
      steps.set(m.step, {
        seconds: s.seconds + Number(process.hrtime.bigint() - t) / 1e9,
        secretWrites: s.secretWrites + writes - before,
        runs: s.runs + 1,
      });
    });
    const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const final = await rt.journal.get(record.id);
    if (final?.status !== RotationStatus.Completed) throw new Error(`bench rotation ended ${final?.status}: ${final?.error}`);
    const requests = rt.bus.published.filter((e) => e.type === EventType.RestartRequested && e.detail.rotationId === record.id);
    return {
      leaves: LEAVES,
      clusters: CLUSTERS.length,
      totalSeconds,
      secretWrites: writes,
      restartRequests: requests.length,
      workloadsToRestart: requests.reduce((n, e) => n + (Array.isArray(e.detail.workloads) ? e.detail.workloads.length : 0), 0),
      steps: [...steps].map(([step, s]) => ({ step, ...s })),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The figures as a table. */
export function caRotationTable(f: CaRotationFigures): string {
  const rows = [
    ['step', 'seconds', 'Secret writes', 'runs'],
    ...f.steps.map((s) => [s.step, s.seconds.toFixed(2), String(s.secretWrites), String(s.runs)]),
  ];
  rows.push(['total', f.totalSeconds.toFixed(2), String(f.secretWrites), '']);
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const body = rows
    .map(
      (r, j) =>
        r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') +
        (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : ''),
    )
    .join('\n');
  return `${body}\nRestartRequested events: ${f.restartRequests} (${f.workloadsToRestart} workload restarts asked over the three restart steps; rollout waits excluded)`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const figures = await caRotationBench();
  console.log(`Authority rotation: 1 CA, ${figures.leaves} leaves, ${figures.clusters} clusters (embedded runtime)`);
  console.log(caRotationTable(figures));
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/ca-rotation.json', JSON.stringify({ at: new Date().toISOString(), ...figures }, null, 2) + '\n');
  console.log('\nwrote bench-results/ca-rotation.json');
}
