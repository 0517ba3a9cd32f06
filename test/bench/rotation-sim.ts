/**
 * Target 8 of issue 14: 100,000 certificates across 100 clusters rotated in one region, shown by a simulation in
 * virtual time that runs the real Lambda handlers and rotation use cases (test/bench/sim/world.ts) against
 * Secrets Manager's write quota, SQS FIFO groups, Lambda concurrency and simulated clusters. Prints a table, writes
 * bench-results/rotation-sim.json and bench-results/rotation-sim.svg (rotations completed over time).
 *
 *   npx tsx test/bench/rotation-sim.ts [--certificates 100000] [--clusters 100] [--step-concurrency 50] [--no-search] [--regions 1,2,3]
 *
 * Then, simulated rather than extrapolated: the largest load one region finishes within 45 minutes (binary search
 * over loads) and the load sharded over 1, 2, 3 regions (each its own quotas; bench-results/rotation-sim-regions.svg).
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
   * Fraction of the region simulated (default 0.02): certificates, clusters and every regional capacity (Secrets
   * Manager's write quota, EventBridge's PutEvents quota, Lambda concurrency) times this; per-cluster load and
   * every latency unchanged, so the minutes are those of the full load. 1 simulates every certificate (slow:
   * the real handlers issue and check each certificate).
   */
  readonly scale?: number;
  /** Reserved concurrency of the step function in the second scenario (default 100; the first has none, as deployed). */
  readonly stepConcurrency?: number;
  /** Search for the largest load one region finishes within the target (simulated runs, not an extrapolation). */
  readonly search?: boolean;
  /** Fraction of the region the search simulates (default: `scale`, at most 0.01, to keep it short). */
  readonly searchScale?: number;
  /** Region counts to shard the load over (each region its own quotas, clusters and certificates; default 1, 2, 3). */
  readonly regions?: readonly number[];
  readonly progress?: (line: string) => void;
}

/** One region of a sharded load: certificates and clusters split evenly, every regional quota its own. */
export interface ShardRun {
  readonly regions: number;
  readonly certificatesPerRegion: number;
  readonly minutes: number;
  readonly completed: number;
  readonly failed: number;
  readonly writesPerRotation: number;
  /** Throttled Secrets Manager attempts over all regions. */
  readonly throttles: number;
  readonly minutesTo99: number;
}

/** A load tried by the search and whether one region finished it within the target. */
export interface SearchStep {
  readonly certificates: number;
  readonly fits: boolean;
  readonly minutes: number;
  readonly completed: number;
  readonly failed: number;
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
  /** The largest load found by simulating loads (binary search), and the loads tried. */
  readonly searched?: { readonly largest: number; readonly steps: readonly SearchStep[]; readonly scale: number };
  readonly shards?: readonly ShardRun[];
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

interface Scenario {
  readonly label: string;
  readonly stepConcurrency: number | 'account';
  readonly run: Omit<SimResult, 'completions'>;
  readonly completions: readonly number[];
}

/** One simulated region at fraction `f`, with its counts brought back to the full region. */
async function scenario(
  label: string,
  certificates: number,
  clusters: number,
  f: number,
  stepConcurrency: number | undefined,
  progress?: (line: string) => void,
  limitMinutes = 300,
): Promise<Scenario> {
  const result = await simulateRegion({
    certificates: Math.round(certificates * f),
    clusters: Math.max(1, Math.round(clusters * f)),
    secretsManager: { writesPerSecond: SecretsManagerQuota.writesPerSecond * f },
    eventBridge: { putEventsPerSecond: 2_400 * f },
    lambda: {
      concurrency: Math.round(1000 * f),
      ...(stepConcurrency !== undefined && { stepConcurrency: Math.max(1, Math.round(stepConcurrency * f)) }),
    },
    limitMinutes,
    ...(progress && { progress: (line: string) => progress(`[${label}] ${line}`) }),
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
    secretsManager: {
      ...scaled.secretsManager,
      pendingOnCurrent: up(scaled.secretsManager.pendingOnCurrent),
      writes: up(scaled.secretsManager.writes),
      throttles: up(scaled.secretsManager.throttles),
      peakWritesPerSecond: scaled.secretsManager.peakWritesPerSecond / f,
    },
    eventBridge: { ...scaled.eventBridge, calls: up(scaled.eventBridge.calls), throttles: up(scaled.eventBridge.throttles) },
    lambda: {
      ...scaled.lambda,
      peakConcurrency: up(scaled.lambda.peakConcurrency),
      functions: Object.fromEntries(
        Object.entries(scaled.lambda.functions).map(([k, v]) => [
          k,
          { invocations: up(v.invocations), coldStarts: up(v.coldStarts), peak: up(v.peak) },
        ]),
      ),
    },
  };
  const completions = simulated.flatMap((c) => Array.from({ length: Math.round(1 / f) }, () => c));
  return { label, stepConcurrency: stepConcurrency ?? 'account', run, completions };
}

const fitsTarget = (x: Scenario, certificates: number): boolean =>
  x.run.failed === 0 && x.run.completed >= certificates && x.run.minutes <= TARGET_MINUTES;

/**
 * The largest load one region finishes within the target, by simulating loads (binary search down to a sixteenth of
 * `start`, doubling first while `start` fits). Each run stops at the target, at fraction `f` of the region.
 */
async function searchLargest(
  start: number,
  f: number,
  stepConcurrency: number | undefined,
  progress?: (line: string) => void,
): Promise<{ largest: number; steps: SearchStep[] }> {
  const steps: SearchStep[] = [];
  const fits = async (n: number): Promise<boolean> => {
    const x = await scenario(`search ${n}`, n, Math.max(1, Math.round(n / 1000)), f, stepConcurrency, progress, TARGET_MINUTES + 1);
    const ok = fitsTarget(x, n);
    steps.push({ certificates: n, fits: ok, minutes: x.run.minutes, completed: x.run.completed, failed: x.run.failed });
    return ok;
  };
  let lo = 0;
  let hi = start;
  for (let i = 0; i < 3 && (await fits(hi)); i++) [lo, hi] = [hi, hi * 2];
  const step = Math.max(1, Math.round(start / 16));
  while (hi - lo > step) {
    const mid = Math.round((lo + hi) / 2 / step) * step;
    if (await fits(mid)) lo = mid;
    else hi = mid;
  }
  return { largest: lo, steps };
}

/** The load split over `regions` regions (each its own quotas, clusters and certificates): one region simulated. */
async function shard(
  regions: number,
  certificates: number,
  clusters: number,
  f: number,
  stepConcurrency: number | undefined,
  progress?: (line: string) => void,
): Promise<{ run: ShardRun; completions: number[] }> {
  const perRegion = Math.ceil(certificates / regions);
  const x = await scenario(`${regions} regions`, perRegion, Math.max(1, Math.round(clusters / regions)), f, stepConcurrency, progress);
  const at99 = x.completions[Math.max(0, Math.ceil(x.completions.length * 0.99) - 1)] ?? 0;
  return {
    run: {
      regions,
      certificatesPerRegion: perRegion,
      minutes: x.run.minutes,
      completed: x.run.completed * regions,
      failed: x.run.failed * regions,
      writesPerRotation: x.run.secretsManager.writesPerRotation,
      throttles: x.run.secretsManager.throttles * regions,
      minutesTo99: at99 / 60_000,
    },
    // Every region completes alike: the whole load's curve is one region's, `regions` times over.
    completions: x.completions.flatMap((c) => Array.from({ length: regions }, () => c)),
  };
}

export async function rotationSimBench(options: RotationSimOptions = {}): Promise<RotationSimReport> {
  const certificates = options.certificates ?? 100_000;
  const clusters = options.clusters ?? Math.max(1, Math.round(certificates / 1000));
  const f = options.scale ?? 0.02;
  const paced = options.stepConcurrency ?? 100;
  // As serverless.yml deploys it (the step function takes what the account has), then with the step function's
  // reserved concurrency capped so its writes stay near the quota instead of storming it.
  const deployed = await scenario('as deployed', certificates, clusters, f, undefined, options.progress);
  const capped = await scenario(`step concurrency ${paced}`, certificates, clusters, f, paced, options.progress);
  // The faster of the two that completed everything (the capped one if neither did).
  const clean2 = [capped, deployed].filter((x) => x.run.failed === 0 && x.run.completed === certificates);
  const best = clean2.sort((a, b) => a.run.minutes - b.run.minutes)[0] ?? capped;
  const stepOf = (x: Scenario) => (x.stepConcurrency === 'account' ? undefined : x.stepConcurrency);
  const { run, completions } = best;
  const steady = steadyRate(completions);
  // Ramp and tail do not grow with the load: what is not steady in this run is paid once per region.
  const overhead = Math.max(0, run.minutes - (steady ? certificates / steady : 0));
  const clean = run.failed === 0 && run.completed === certificates;
  const largest = clean && steady ? Math.floor(Math.max(0, TARGET_MINUTES - overhead) * steady) : 0;
  const quotaCeiling = run.secretsManager.writesPerRotation
    ? Math.floor((SecretsManagerQuota.writesPerSecond * 60 * TARGET_MINUTES) / run.secretsManager.writesPerRotation)
    : 0;
  const sharding = [100_000, 250_000, 500_000, 1_000_000].map((n) => {
    const regions = largest ? Math.ceil(n / largest) : 0;
    return { certificates: n, regions, minutes: regions ? overhead + n / regions / steady : 0 };
  });

  // Simulated, not extrapolated: the largest load that fits, and the load sharded over regions.
  const searchScale = options.searchScale ?? Math.min(f, 0.01);
  const searched =
    options.search === false
      ? undefined
      : { ...(await searchLargest(certificates, searchScale, stepOf(best), options.progress)), scale: searchScale };
  const shardRuns: { run: ShardRun; completions: number[] }[] = [];
  for (const regions of options.regions ?? [1, 2, 3]) {
    shardRuns.push(
      regions === 1
        ? {
            run: {
              regions: 1,
              certificatesPerRegion: certificates,
              minutes: best.run.minutes,
              completed: best.run.completed,
              failed: best.run.failed,
              writesPerRotation: best.run.secretsManager.writesPerRotation,
              throttles: best.run.secretsManager.throttles,
              minutesTo99: (best.completions[Math.max(0, Math.ceil(best.completions.length * 0.99) - 1)] ?? 0) / 60_000,
            },
            completions: [...best.completions],
          }
        : await shard(regions, certificates, clusters, f, stepOf(best), options.progress),
    );
  }

  mkdirSync('bench-results', { recursive: true });
  const palette = ['#1565c0', '#2e7d32', '#c62828', '#6a1b9a', '#ef6c00'];
  writeFileSync(
    'bench-results/rotation-sim-regions.svg',
    lineChart({
      title: `Rotations completed: ${certificates.toLocaleString('en-US')} certificates sharded over regions (simulated, ${best.label})`,
      xLabel: 'simulated minutes',
      yLabel: 'rotations completed (all regions)',
      series: shardRuns.map((x, i) => ({
        label: `${x.run.regions} region(s): ${x.run.minutes.toFixed(1)} min, ${x.run.writesPerRotation.toFixed(2)} writes/rotation, ${x.run.failed.toLocaleString('en-US')} failed`,
        points: cumulative(x.completions),
        color: palette[i % palette.length]!,
      })),
      marker: { x: TARGET_MINUTES, label: `${TARGET_MINUTES} min target` },
    }),
  );
  const svg = lineChart({
    title: `Rotations completed: ${certificates.toLocaleString('en-US')} certificates, ${clusters} clusters, one region (simulated)`,
    xLabel: 'simulated minutes',
    yLabel: 'rotations completed',
    series: [deployed, capped].map((x, i) => ({
      label: `${x.label}: ${x.run.secretsManager.writesPerRotation.toFixed(2)} writes/rotation, ${x.run.failed.toLocaleString('en-US')} failed`,
      points: cumulative(x.completions),
      color: i ? '#2e7d32' : '#1565c0',
    })),
    marker: { x: TARGET_MINUTES, label: `${TARGET_MINUTES} min target` },
  });
  writeFileSync('bench-results/rotation-sim.svg', svg);

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const done = (x: Scenario) =>
    x.run.completed + x.run.failed >= certificates
      ? x.run.minutes.toFixed(1)
      : `> ${x.run.minutes.toFixed(0)} (${fmt(certificates - x.run.completed - x.run.failed)} still running)`;
  const rows = [
    ['simulated rotation of one region', deployed.label, capped.label, 'reference'],
    [
      `${fmt(certificates)} certificates, ${clusters} clusters: minutes until all finished`,
      done(deployed),
      done(capped),
      `< ${TARGET_MINUTES}`,
    ],
    [
      'minutes until 99% of the completed ones',
      ...[deployed, capped].map((x) => ((x.completions[Math.max(0, Math.ceil(x.completions.length * 0.99) - 1)] ?? 0) / 60_000).toFixed(1)),
      '-',
    ],
    ['rotations completed / failed', ...[deployed, capped].map((x) => `${fmt(x.run.completed)} / ${fmt(x.run.failed)}`), '-'],
    [
      'Secrets Manager writes per completed rotation',
      ...[deployed, capped].map((x) => x.run.secretsManager.writesPerRotation.toFixed(2)),
      '50 writes/s per region',
    ],
    ['Secrets Manager throttled attempts', ...[deployed, capped].map((x) => fmt(x.run.secretsManager.throttles)), '-'],
    [
      'secrets left with AWSPENDING on AWSCURRENT (next rotation locked)',
      ...[deployed, capped].map((x) => fmt(x.run.secretsManager.pendingOnCurrent)),
      '0',
    ],
    ['EventBridge throttled PutEvents attempts', ...[deployed, capped].map((x) => fmt(x.run.eventBridge.throttles)), '-'],
    [
      'steady rate, rotations per minute',
      ...[deployed, capped].map((x) => fmt(steadyRate(x.completions))),
      `quota alone: ${fmt((SecretsManagerQuota.writesPerSecond * 60) / (run.secretsManager.writesPerRotation || 1))}`,
    ],
    [
      'peak Lambda concurrency (step, restart)',
      ...[deployed, capped].map((x) => `${fmt(x.run.lambda.functions.step?.peak ?? 0)}, ${fmt(x.run.lambda.functions.restart?.peak ?? 0)}`),
      'account 1,000',
    ],
    [
      `largest load one region rotates in ${TARGET_MINUTES} min, extrapolated from the steady rate (${best.label})`,
      '',
      clean ? fmt(largest) : 'n/a: rotations failed',
      `write quota ceiling ${fmt(quotaCeiling)}`,
    ],
    ...(searched
      ? [
          [
            `largest load one region finishes in ${TARGET_MINUTES} min, simulated (search at fraction ${searched.scale}: ${searched.steps.map((x) => `${fmt(x.certificates)} ${x.fits ? 'fits' : 'no'}`).join(', ')})`,
            '',
            fmt(searched.largest),
            `write quota ceiling ${fmt(quotaCeiling)}`,
          ],
        ]
      : []),
    ...shardRuns.map(({ run: x }) => [
      `${fmt(certificates)} certificates over ${x.regions} region(s) (${fmt(x.certificatesPerRegion)} each): minutes until all finished (99%); writes/rotation; throttled writes, all regions`,
      '',
      `${x.minutes.toFixed(1)} (${x.minutesTo99.toFixed(1)}); ${x.writesPerRotation.toFixed(2)}; ${fmt(x.throttles)}${x.failed ? `; ${fmt(x.failed)} failed` : ''}`,
      `< ${TARGET_MINUTES}`,
    ]),
    [
      'simulated fraction of the region; real seconds',
      `${f}; ${deployed.run.realSeconds.toFixed(0)}`,
      `${f}; ${capped.run.realSeconds.toFixed(0)}`,
      '-',
    ],
  ];
  const report: RotationSimReport = {
    run,
    stepConcurrency: best.stepConcurrency,
    scale: f,
    steadyPerMinute: steady,
    largestInOneRegion: largest,
    quotaCeiling,
    sharding,
    ...(searched && { searched }),
    shards: shardRuns.map((x) => x.run),
    rows,
  };
  writeFileSync(
    'bench-results/rotation-sim.json',
    JSON.stringify(
      {
        ...report,
        scenarios: [deployed, capped].map((x) => ({
          label: x.label,
          stepConcurrency: x.stepConcurrency,
          run: x.run,
          completionsPerMinute: perMinute(x.completions),
        })),
      },
      null,
      2,
    ) + '\n',
  );
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
  return rows
    .map(
      (r, j) =>
        r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') +
        (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : ''),
    )
    .join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      certificates: { type: 'string' },
      clusters: { type: 'string' },
      scale: { type: 'string' },
      'step-concurrency': { type: 'string' },
      'no-search': { type: 'boolean' },
      'search-scale': { type: 'string' },
      regions: { type: 'string' },
    },
  });
  const report = await rotationSimBench({
    ...(values.certificates && { certificates: Number(values.certificates) }),
    ...(values.clusters && { clusters: Number(values.clusters) }),
    ...(values.scale && { scale: Number(values.scale) }),
    ...(values['step-concurrency'] && { stepConcurrency: Number(values['step-concurrency']) }),
    ...(values['no-search'] && { search: false }),
    ...(values['search-scale'] && { searchScale: Number(values['search-scale']) }),
    ...(values.regions && { regions: values.regions.split(',').map(Number) }),
    progress: (line) => console.error(line),
  });
  console.log(table(report.rows));
  console.log('\nwrote bench-results/rotation-sim.json, rotation-sim.svg and rotation-sim-regions.svg');
}
