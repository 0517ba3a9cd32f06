/**
 * `npx tsx test/bench/cli-start.ts` (or `npm run bench -- --cli-start`): what `rekey` costs to start, as a user runs
 * it (`node bin/rekey.js`), from the bundle (`npm run build:cli`, built here first) and through tsx (REKEY_TSX=1, what
 * bin/rekey.js falls back to without a fresh bundle): `--version`, and `apply --out` of a 3-unit inventory into a
 * fresh state folder. Medians of alternating runs; writes bench-results/cli-start.json. Figures, not assertions.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli } from '../../cli/tools/build-cli.js';
import { load1, machine, median, type Figure } from './figures.js';

const REPO = new URL('../..', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const INVENTORY = `apiVersion: rekey/v1
kind: Inventory
metadata: {name: start-bench}
authorities: [{name: ca, commonName: start-ca}]
certificates: [{name: web, issuer: ca, usage: server, commonName: web, secret: {name: web-tls, namespace: shop}}]
credentials: [{name: db, type: password, secret: {name: db-password, namespace: shop}}]
`;

function secondsOf(args: readonly string[], tsx: boolean): number {
  const start = process.hrtime.bigint();
  execFileSync(process.execPath, [join(REPO, 'bin/rekey.js'), ...args], {
    cwd: REPO,
    env: { ...process.env, REKEY_VAULT_KEY: undefined, REKEY_TSX: tsx ? '1' : '0' },
    stdio: 'ignore',
  });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function cliStartBench(): Promise<Figure[]> {
  await buildCli();
  const work = mkdtempSync(join(tmpdir(), 'rekey-start-bench-'));
  const inventory = join(work, 'inventory.yaml');
  writeFileSync(inventory, INVENTORY);
  const cases: { what: string; args: (run: string) => string[] }[] = [
    { what: 'rekey --version', args: () => ['--version'] },
    {
      what: 'rekey apply --out of 3 units (fresh state)',
      args: (run) => ['--state', join(work, run, 'state'), 'apply', '-f', inventory, '--out', join(work, run, 'out')],
    },
  ];
  const figures: Figure[] = [];
  try {
    for (const c of cases) {
      const load0 = load1();
      const bundle: number[] = [];
      const tsx: number[] = [];
      secondsOf(c.args('warm-bundle'), false); // tsx's transform cache and the page cache warmed for both paths
      secondsOf(c.args('warm-tsx'), true);
      for (let i = 0; i < RUNS; i++) {
        bundle.push(secondsOf(c.args(`b${i}`), false));
        tsx.push(secondsOf(c.args(`t${i}`), true));
      }
      const value = median(bundle);
      const reference = median(tsx);
      figures.push({
        what: `${c.what}, bundled CLI`,
        value,
        unit: 's',
        runs: bundle,
        reference: { what: 'through tsx', value: reference },
        ratio: reference / value,
        load: [load0, load1()],
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(
    'bench-results/cli-start.json',
    JSON.stringify({ at: new Date().toISOString(), machine: machine(), figures }, null, 2) + '\n',
  );
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await cliStartBench())
    console.log(
      `${f.what}: ${f.value.toFixed(2)} s (runs ${f.runs.map((x) => x.toFixed(2)).join(' ')}); ${f.reference!.what} ${f.reference!.value.toFixed(2)} s; ${f.ratio!.toFixed(1)}x; load ${f.load.join('-')}`,
    );
  console.log('wrote bench-results/cli-start.json');
}
