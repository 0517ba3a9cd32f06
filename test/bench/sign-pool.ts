/**
 * The signing pool (shared/adapters/signing-pool) end to end: `rekey apply` of N ECDSA-P256 certificates into a fresh
 * embedded vault and `--out`, as a process, with the pool on (REKEY_SIGN_WORKERS unset: one worker per core but one)
 * and off (REKEY_SIGN_WORKERS=0), alternating, `--runs` of each; with `--baseline PATH/bin/rekey.js`, an older
 * checkout's CLI in the same alternation. Wall, user and system seconds of each run (`/usr/bin/time`) and the 1-minute
 * load average before it. Figures, not assertions. Writes bench-results/sign-pool.json.
 * Usage: tsx test/bench/sign-pool.ts [--certs 10000] [--runs 3] [--baseline /path/to/bin/rekey.js]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load1, machine, median, type Figure } from './figures.js';
import { syntheticInventory } from './inventory-gen.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

interface Run {
  readonly wall: number;
  readonly user: number;
  readonly sys: number;
  readonly load: number;
}

interface Variant {
  readonly name: string;
  readonly cli: string;
  readonly env: NodeJS.ProcessEnv;
}

function applyOnce(v: Variant, inventory: string, work: string): Run {
  const state = join(work, 'state');
  const out = join(work, 'out');
  rmSync(state, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  const load = load1();
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%e %U %S', process.execPath, v.cli, '--state', state, 'apply', '-f', inventory, '--out', out, '--json'],
    { env: { ...process.env, REKEY_VAULT_KEY: undefined, ...v.env }, encoding: 'utf8', maxBuffer: 1 << 30 },
  );
  if (r.status !== 0) throw new Error(`${v.name}: apply exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const [wall, user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number];
  return { wall, user, sys, load };
}

export function runSignPoolBench(certs: number, runs: number, baseline?: string): Figure[] {
  const work = mkdtempSync(join(tmpdir(), 'rekey-sign-pool-bench-'));
  try {
    const inventory = join(work, 'inventory.yaml');
    writeFileSync(inventory, syntheticInventory({ name: 'bench-e2e', certificates: certs }));
    const cli = join(ROOT, 'bin', 'rekey.js');
    const variants: Variant[] = [
      { name: 'pool on', cli, env: { REKEY_SIGN_WORKERS: undefined } },
      { name: 'pool off', cli, env: { REKEY_SIGN_WORKERS: '0' } },
      ...(baseline ? [{ name: 'baseline', cli: baseline, env: {} }] : []),
    ];
    const results = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
    for (let i = 0; i < runs; i++)
      for (const v of variants) {
        const r = applyOnce(v, inventory, work);
        results.get(v.name)!.push(r);
        process.stderr.write(`${v.name} run ${i + 1}: ${r.wall} s wall, ${r.user} s user, ${r.sys} s sys, load ${r.load}\n`);
      }
    const rate = (name: string) => median(results.get(name)!.map((r) => certs / r.wall));
    const loads = [...results.values()].flat().map((r) => r.load);
    const load: [number, number] = [Math.min(...loads), Math.max(...loads)];
    const figure = (name: string, reference: string): Figure => {
      const value = rate(name);
      const ref = rate(reference);
      return {
        what: `apply ${certs.toLocaleString('en-US')} ECDSA-P256 certificates (vault + --out), ${name}`,
        value,
        unit: 'certs/s',
        runs: results.get(name)!.map((r) => Math.round(certs / r.wall)),
        reference: { what: reference, value: ref },
        ratio: value / ref,
        load,
      };
    };
    const figures = [figure('pool on', 'pool off'), ...(baseline ? [figure('pool on', 'baseline')] : [])];
    mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
    writeFileSync(
      join(ROOT, 'bench-results', 'sign-pool.json'),
      JSON.stringify({ machine: machine(), certs, runs: Object.fromEntries(results), figures }, null, 2) + '\n',
    );
    return figures;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = runSignPoolBench(Number(arg('certs') ?? 10_000), Number(arg('runs') ?? 3), arg('baseline'));
  for (const f of figures)
    process.stdout.write(`${f.what}: ${Math.round(f.value)} certs/s, ${f.ratio?.toFixed(2)}x ${f.reference?.what}\n`);
}
