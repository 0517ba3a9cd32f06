/**
 * Target 8 of issue 14: 100,000 certificates across 100 clusters rotated in one region, shown by a simulation in
 * virtual time that runs the real Lambda handlers and rotation use cases (test/bench/sim/world.ts) against
 * Secrets Manager's write quota, SQS FIFO groups, Lambda concurrency and simulated clusters. Prints a table, writes
 * bench-results/rotation-sim.json and bench-results/rotation-sim.svg (rotations completed over time).
 *
 *   npx tsx test/bench/rotation-sim.ts [--certificates 100000] [--clusters 100] [--step-concurrency 50]
 *
 * Figures, not assertions. The simulated minutes do not depend on this machine; the real seconds do.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cumulative, lineChart } from './sim/chart.js';
import { SecretsManagerQuota } from './sim/secrets-manager.js';
import { simulateRegion, type SimResult } from './sim/world.js';

export const TARGET_MINUTES = 45;

export interface RotationSimOptions {
  readonly certificates?: number;
  readonly clusters?: number;
  /**
   * Fraction of the region simulated (default 0.1): certificates, clusters and every regional capacity (Secrets
   * Manager's write quota, EventBridge's PutEvents quota, Lambda concurrency) times this; per-cluster load and
   * every latency unchanged, so the minutes are those of the full load. 1 simulates every certificate (slow:
   * the real handlers issue and check each certificate).
   */
  readonly scale?: number;
  /** Reserved concurrency of the step function (undefined: none, as serverless.yml deploys it). */
  readonly stepConcurrency?: number;
  readonly progress?: (line: string) => void;
}

export interface RotationSimReport {
  readonly run: Omit<SimResult, 'completions'>;
  readonly stepConcurrency: number | 'account';
  readonly scale: number;
  /** Rotations per minute between 10% and 90% of completions. */
  readonly steadyPerMinute: number;
  /** Largest number of rotations one region finishes in 45 minutes at the steady rate (after the same ramp and tail). */
  readonly largestInOneRegion: number;
  /** The write quota's own ceiling in 45 minutes at the measured writes per rotation. */
  readonly quotaCeiling: number;
  readonly sharding: readonly { readonly certificates: number; readonly regions: number; readonly minutes: number }[];
  readonly rows: readonly string[][];
}

/** Rotations per minute between the 10th and the 90th percentile of completions. */
function steadyRate(completions: readonly number[]): number {
  const n = completions.length;
  if (n < 10) return 0;
  const a = completions[Math.floor(n * 0.1)]!;
  const b = completions[Math.floor(n * 0.9)]!;
  return b > a ? (0.8 * n) / ((b - a) / 60_000) : 0;
}

export async function rotationSimBench(options: RotationSimOptions = {}): Promise<RotationSimReport> {
  const certificates = options.certificates ?? 100_000;
  const clusters = options.clusters ?? Math.max(1, Math.round(certificates / 1000));
  const f = options.scale ?? 0.1;
  const result = await simulateRegion({
    certificates: Math.round(certificates * f),
    clusters: Math.max(1, Math.round(clusters * f)),
    secretsManager: { writesPerSecond: SecretsManagerQuota.writesPerSecond * f },
    eventBridge: { putEventsPerSecond: 2_400 * f },
    lambda: { concurrency: Math.round(1000 * f), ...(options.stepConcurrency !== undefined && { stepConcurrency: Math.max(1, Math.round(options.stepConcurrency * f)) }) },
    limitMinutes: 600,
    ...(options.progress && { progress: options.progress }),
  });
  const { completions: simulated, ...scaled } = result;
  // Back to the full region: counts divided by the fraction, times and ratios as they are.
  const up = (n: number) => Math.round(n / f);
  const run: Omit<SimResult, 'completions'> = {
    ...scaled,
    certificates: up(scaled.certificates),
    clusters: up(scaled.clusters),
    completed: up(scaled.completed),
    failed: up(scaled.failed),
    secretsManager: { ...scaled.secretsManager, writes: up(scaled.secretsManager.writes), throttles: up(scaled.secretsManager.throttles), peakWritesPerSecond: scaled.secretsManager.peakWritesPerSecond / f },
    eventBridge: { ...scaled.eventBridge, calls: up(scaled.eventBridge.calls), throttles: up(scaled.eventBridge.throttles) },
    lambda: { ...scaled.lambda, peakConcurrency: up(scaled.lambda.peakConcurrency) },
  };
  const completions = simulated.flatMap((c) => Array.from({ length: Math.round(1 / f) }, () => c));
  const steady = steadyRate(completions);
  // Ramp and tail do not grow with the load: what is not steady in this run is paid once per region.
  const overhead = Math.max(0, run.minutes - (steady ? certificates / steady : 0));
  const largest = steady ? Math.floor(Math.max(0, TARGET_MINUTES - overhead) * steady) : 0;
  const quotaCeiling = run.secretsManager.writesPerRotation ? Math.floor((SecretsManagerQuota.writesPerSecond * 60 * TARGET_MINUTES) / run.secretsManager.writesPerRotation) : 0;
  const sharding = [100_000, 250_000, 500_000, 1_000_000].map((n) => {
    const regions = largest ? Math.ceil(n / largest) : 0;
    return { certificates: n, regions, minutes: regions ? overhead + n / regions / steady : 0 };
  });

  mkdirSync('bench-results', { recursive: true });
  const svg = lineChart({
    title: `Rotations completed: ${certificates.toLocaleString('en-US')} certificates, ${clusters} clusters, one region (simulated)`,
    xLabel: 'simulated minutes',
    yLabel: 'rotations completed',
    series: [{ label: `rekey (${run.secretsManager.writesPerRotation.toFixed(2)} Secrets Manager writes per rotation)`, points: cumulative(completions), color: '#1565c0' }],
    marker: { x: TARGET_MINUTES, label: `${TARGET_MINUTES} min target` },
  });
  writeFileSync('bench-results/rotation-sim.svg', svg);

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const rows = [
    ['simulated rotation of one region', 'value', 'reference'],
    [`${fmt(certificates)} certificates, ${clusters} clusters: minutes to all rotated`, run.minutes.toFixed(1), `< ${TARGET_MINUTES}`],
    ['rotations completed / failed', `${fmt(run.completed)} / ${fmt(run.failed)}`, '-'],
    ['Secrets Manager writes per rotation', run.secretsManager.writesPerRotation.toFixed(2), 'quota 50 writes/s per region'],
    ['Secrets Manager throttled attempts', fmt(run.secretsManager.throttles), '-'],
    ['EventBridge throttled PutEvents', fmt(run.eventBridge.throttles), '-'],
    ['steady rate, rotations per minute', fmt(steady), `quota alone: ${fmt((SecretsManagerQuota.writesPerSecond * 60) / (run.secretsManager.writesPerRotation || 1))}`],
    [`largest load one region rotates in ${TARGET_MINUTES} min`, fmt(largest), `write quota ceiling ${fmt(quotaCeiling)}`],
    ...sharding.map((s) => [`${fmt(s.certificates)} certificates sharded over ${s.regions} region(s): minutes`, s.minutes.toFixed(1), `< ${TARGET_MINUTES}`]),
    ['peak Lambda concurrency (step, restart)', `${up(run.lambda.functions.step?.peak ?? 0)}, ${up(run.lambda.functions.restart?.peak ?? 0)}`, 'account 1,000'],
    ['simulated fraction of the region', String(f), '-'],
    ['simulation real seconds', run.realSeconds.toFixed(0), '-'],
  ];
  const report: RotationSimReport = {
    run,
    stepConcurrency: options.stepConcurrency ?? 'account',
    scale: f,
    steadyPerMinute: steady,
    largestInOneRegion: largest,
    quotaCeiling,
    sharding,
    rows,
  };
  writeFileSync('bench-results/rotation-sim.json', JSON.stringify({ ...report, completionsPerMinute: perMinute(completions) }, null, 2) + '\n');
  return report;
}

function perMinute(completions: readonly number[]): number[] {
  const out: number[] = [];
  for (const c of completions) {
    const m = Math.floor(c / 60_000);
    while (out.length <= m) out.push(0);
    out[m]!++;
  }
  return out;
}

export function table(rows: readonly (readonly string[])[]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r, j) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') + (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : '')).join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { certificates: { type: 'string' }, clusters: { type: 'string' }, scale: { type: 'string' }, 'step-concurrency': { type: 'string' } } });
  const report = await rotationSimBench({
    ...(values.certificates && { certificates: Number(values.certificates) }),
    ...(values.clusters && { clusters: Number(values.clusters) }),
    ...(values.scale && { scale: Number(values.scale) }),
    ...(values['step-concurrency'] && { stepConcurrency: Number(values['step-concurrency']) }),
    progress: (line) => console.error(line),
  });
  console.log(table(report.rows));
  console.log('\nwrote bench-results/rotation-sim.json and bench-results/rotation-sim.svg');
}
