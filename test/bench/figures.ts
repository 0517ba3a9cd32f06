/**
 * The shape every bench writes into `bench-results/<name>.json` under `figures`, so `npm run bench` can print one
 * table of all of them (`printFigures`), each next to its reference, with the load average it ran under.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Figure {
  /** What was measured, e.g. "apply 10,000 ECDSA-P256 certificates (vault + --out)". */
  readonly what: string;
  /** The median of `runs`. */
  readonly value: number;
  readonly unit: string;
  readonly runs: readonly number[];
  /** What it is compared with in the same run, and that figure. */
  readonly reference?: { readonly what: string; readonly value: number };
  /** value / reference (or the reverse for times, see `higherIsBetter`). */
  readonly ratio?: number;
  /** The goal from the issue, e.g. "≥ 2,000/s". */
  readonly target?: string;
  readonly met?: boolean;
  /** 1-minute load average before and after the figure's runs. */
  readonly load: readonly [number, number];
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const load1 = (): number => Number(loadavg()[0]!.toFixed(2));

/** The machine, as the README shows next to the figures. */
export function machine(): Record<string, string | number> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2));

/** One table of every figure in `bench-results/*.json`. */
export function printFigures(dir = 'bench-results'): void {
  const rows: string[][] = [['figure', 'median', 'runs', 'reference (same run)', 'ratio', 'target', 'load']];
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch {
    return;
  }
  for (const f of files) {
    let figures: Figure[] | undefined;
    try {
      figures = (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { figures?: Figure[] }).figures;
    } catch {
      continue;
    }
    for (const x of figures ?? []) {
      rows.push([
        x.what,
        `${fmt(x.value)} ${x.unit}`,
        String(x.runs.length),
        x.reference ? `${x.reference.what}: ${fmt(x.reference.value)}` : '-',
        x.ratio !== undefined ? `${x.ratio.toFixed(2)}x` : '-',
        x.target ? `${x.target} ${x.met ? 'met' : 'NOT met'}` : '-',
        `${x.load[0]}-${x.load[1]}`,
      ]);
    }
  }
  if (rows.length === 1) return;
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  console.log('\nAll figures (bench-results/*.json)');
  console.log(
    rows
      .map(
        (r, j) =>
          r.map((c, i) => (i === 0 || i === 3 || i === 5 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') +
          (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : ''),
      )
      .join('\n'),
  );
}
