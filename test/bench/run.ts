/**
 * `npm run bench`: issuance throughput per key type against native key generation and openssl in the same run,
 * plan on 10,000 certificates, apply of 1,000 certificates into the embedded vault, password rotations on the test
 * PostgreSQL when PG_ADMIN_URL is set (see password-rotation.ts), the API under autocannon (api.ts). Prints a table, writes
 * bench-results/foundation.json. Figures, not assertions: nothing here fails on a slow machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apply } from '../../shared/app/apply.js';
import { plan } from '../../shared/app/plan.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import type { Inventory } from '../../shared/domain/inventory/model.js';
import type { KeyType } from '../../shared/domain/inventory/schema.js';
import { issueMaterial, issuerMaterialOf, type IssuerMaterial } from '../../shared/domain/pki/issue.js';
import { specHashOf, unitsOf } from '../../shared/domain/units.js';
import { composeLocal } from '../../cli/compose.js';
import { silentLogger } from '../../shared/ports/logger.js';
import { caRotationBench, caRotationTable } from './ca-rotation.js';
import { syntheticInventory } from './inventory-gen.js';
import { benchPasswordRotation } from './password-rotation.js';
import { benchApi } from './api.js';
import { printFigures } from './figures.js';
import { runIssueBench } from './issue-e2e.js';

const COUNTS: Record<KeyType, number> = {
  'ECDSA-P256': 3000,
  'ECDSA-P384': 1000,
  Ed25519: 3000,
  'RSA-2048': 40,
  'RSA-3072': 10,
  'RSA-4096': 4,
};

function timeIt(n: number, fn: (i: number) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function nativeKeygen(type: KeyType): void {
  if (type.startsWith('RSA')) generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) });
  else if (type === 'Ed25519') generateKeyPairSync('ed25519');
  else generateKeyPairSync('ec', { namedCurve: type === 'ECDSA-P256' ? 'prime256v1' : 'secp384r1' });
}

const OPENSSL_GENPKEY: Record<KeyType, string[]> = {
  'RSA-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'RSA-3072': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'],
  'RSA-4096': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096'],
  'ECDSA-P256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ECDSA-P384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  Ed25519: ['-algorithm', 'ED25519'],
};

/** openssl's own key generation rate: N processes, minus the cost of starting openssl at all. */
function opensslKeygenPerSecond(type: KeyType, n: number): number {
  const spawnCost = timeIt(n, () => execFileSync('openssl', ['version'])) / n;
  const total =
    timeIt(n, () => execFileSync('openssl', ['genpkey', ...OPENSSL_GENPKEY[type]], { stdio: ['ignore', 'pipe', 'ignore'] })) / n;
  return 1 / Math.max(total - spawnCost, 1e-6);
}

/** openssl's signing rate for the signature each key type makes (openssl speed, one core). */
function opensslSignPerSecond(type: KeyType): number | undefined {
  const alg: Record<KeyType, string> = {
    'RSA-2048': 'rsa2048',
    'RSA-3072': 'rsa3072',
    'RSA-4096': 'rsa4096',
    'ECDSA-P256': 'ecdsap256',
    'ECDSA-P384': 'ecdsap384',
    Ed25519: 'ed25519',
  };
  const r = spawnSync('openssl', ['speed', '-seconds', '1', '-mr', alg[type]], { encoding: 'utf8' });
  // Machine-readable lines (OpenSSL 3): +F2:i:bits:sign/s:verify/s (RSA), +F4 (ECDSA), +F6:i:bits:name:sign/s:verify/s (EdDSA).
  const line = r.stdout.split('\n').find((l) => /^\+F[246]:/.test(l));
  if (!line) return undefined;
  const parts = line.split(':');
  const perSecond = Number(line.startsWith('+F6') ? parts[4] : parts[3]);
  return perSecond > 0 ? perSecond : undefined;
}

function issuerFor(inv: Inventory): IssuerMaterial {
  const root = inv.authorities[0]!;
  const unit = unitsOf(inv, root)[0]!;
  return issuerMaterialOf(root.name, issueMaterial(unit, undefined, new Date(), specHashOf(unit)), true);
}

async function main() {
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    node: process.version,
    openssl: execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim(),
  };
  const rows: string[][] = [
    ['key type', 'rekey issue/s', 'native keygen/s', 'issue time / keygen time', 'openssl genpkey/s', 'openssl sign/s'],
  ];
  const issuance: Record<string, unknown> = {};
  for (const type of Object.keys(COUNTS) as KeyType[]) {
    const inv = loadInventory(syntheticInventory({ name: 'bench', certificates: 1, authorities: 1, key: type }));
    const issuer = issuerFor(inv);
    const unit = unitsOf(inv, inv.certificates[0]!)[0]!;
    const spec = specHashOf(unit);
    const n = COUNTS[type];
    issueMaterial(unit, issuer, new Date(), spec); // warm up
    const issueSeconds = timeIt(n, () => issueMaterial(unit, issuer, new Date(), spec));
    const keygenSeconds = timeIt(n, () => nativeKeygen(type));
    const opensslKeygen = opensslKeygenPerSecond(type, Math.min(n, 20));
    const opensslSign = opensslSignPerSecond(type);
    const row = {
      count: n,
      issuePerSecond: n / issueSeconds,
      nativeKeygenPerSecond: n / keygenSeconds,
      issueToKeygenRatio: issueSeconds / keygenSeconds,
      opensslKeygenPerSecond: opensslKeygen,
      opensslSignPerSecond: opensslSign,
    };
    issuance[type] = row;
    rows.push([
      type,
      row.issuePerSecond.toFixed(0),
      row.nativeKeygenPerSecond.toFixed(0),
      row.issueToKeygenRatio.toFixed(2) + 'x',
      opensslKeygen.toFixed(0),
      opensslSign?.toFixed(0) ?? '-',
    ]);
  }
  results.issuance = issuance;
  console.log('Issuance (keygen + build + sign + PEM, one core)');
  console.log(table(rows));

  const scale: string[][] = [['operation', 'items', 'seconds', 'per second']];
  const work = mkdtempSync(join(tmpdir(), 'rekey-bench-'));
  try {
    const big = syntheticInventory({ name: 'bench10k', certificates: 10_000 });
    let t = process.hrtime.bigint();
    const inv10k = loadInventory(big);
    const loadSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    scale.push(['load + validate inventory', '10000', loadSeconds.toFixed(2), (10_000 / loadSeconds).toFixed(0)]);
    {
      const { deps } = await composeLocal(inv10k, {
        stateDir: join(work, 'empty'),
        target: { kind: 'out', dir: join(work, 'out10k') },
        log: silentLogger,
        readOnly: true,
      });
      t = process.hrtime.bigint();
      const p = await plan(deps, inv10k);
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      scale.push([`plan, empty store (${p.actions.length} actions)`, '10000', s.toFixed(2), (10_000 / s).toFixed(0)]);
      results.plan10kEmptySeconds = s;
    }
    const inv1k = loadInventory(syntheticInventory({ name: 'bench1k', certificates: 1000 }));
    const { deps } = await composeLocal(inv1k, {
      stateDir: join(work, 'state1k'),
      target: { kind: 'out', dir: join(work, 'out1k') },
      log: silentLogger,
    });
    const storeOnly = { ...deps, clusters: new Map() };
    t = process.hrtime.bigint();
    await apply(storeOnly, inv1k);
    const applyVault = Number(process.hrtime.bigint() - t) / 1e9;
    scale.push(['apply into the vault (store only)', '1010', applyVault.toFixed(2), (1010 / applyVault).toFixed(0)]);
    t = process.hrtime.bigint();
    const synced = await apply(deps, inv1k);
    const applyOut = Number(process.hrtime.bigint() - t) / 1e9;
    scale.push([
      `apply --out, all issued (${synced.sync.secrets.filter((x) => x.change === 'created').length} written)`,
      '1000',
      applyOut.toFixed(2),
      (1000 / applyOut).toFixed(0),
    ]);
    t = process.hrtime.bigint();
    const p1k = await plan(deps, inv1k);
    const plan1k = Number(process.hrtime.bigint() - t) / 1e9;
    scale.push([`plan, all issued and synced (${p1k.actions.length} actions)`, '1000', plan1k.toFixed(2), (1000 / plan1k).toFixed(0)]);
    results.scale = {
      load10kSeconds: loadSeconds,
      apply1kVaultSeconds: applyVault,
      apply1kOutSeconds: applyOut,
      plan1kIssuedSeconds: plan1k,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log('\nScale');
  console.log(table(scale));
  // Needs the test PostgreSQL (eval "$(bash test/infra/env.sh)"); without it the rest still runs.
  if (process.env.PG_ADMIN_URL) {
    console.log('');
    results.passwordRotation = await benchPasswordRotation(process.env.PG_ADMIN_URL);
  } else console.log('\npassword rotation: skipped (set PG_ADMIN_URL, e.g. eval "$(bash test/infra/env.sh)")');
  results.api = await benchApi();
  const caRotation = await caRotationBench();
  results.caRotation = caRotation;
  console.log('\nAuthority rotation: 1 CA, 100 leaves, 2 clusters (embedded runtime)');
  console.log(caRotationTable(caRotation));
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/foundation.json', JSON.stringify(results, null, 2) + '\n');
  console.log('\nwrote bench-results/foundation.json');
  // Issue 14 targets 1 and 2 (issuance vs Go, apply of 10,000 vs openssl/cfssl/step), then every figure in one table.
  await runIssueBench();
  printFigures();
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map(
      (r, j) =>
        r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') +
        (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : ''),
    )
    .join('\n');
}

await main();
// `npm run bench -- --issuers`: leaf issuance through rekey's own CA, AWS Private CA (moto) and ACME (pebble); needs the test services.
if (process.argv.includes('--issuers')) await import('./issuers.js');
// `--rotation-sim`: 100,000 certificates rotated in one simulated region (issue 14, target 8; minutes of CPU).
if (process.argv.includes('--rotation-sim')) {
  const { rotationSimBench, table: simTable } = await import('./rotation-sim.js');
  console.log('\nRotation at scale (simulated region; bench-results/rotation-sim.svg)');
  console.log(simTable((await rotationSimBench()).rows));
}
// `--cert-manager`: rekey against cert-manager on dc1 (issue 14, target 6; needs the test services; long).
if (process.argv.includes('--cert-manager')) {
  const { certManagerBench, table: cmTable } = await import('./cert-manager.js');
  console.log('\nrekey vs cert-manager on dc1');
  console.log(cmTable((await certManagerBench()).rows));
}
// `--cli-start`: `rekey --version` and a small `apply --out` from the bundled CLI and through tsx.
if (process.argv.includes('--cli-start')) {
  await (await import('./cli-start.js')).cliStartBench();
  printFigures();
}
// `--sign-pool`: apply of 10,000 with the signing pool on and off, alternating (issue 14, target 1; minutes).
if (process.argv.includes('--sign-pool')) {
  (await import('./sign-pool.js')).runSignPoolBench(10_000, 3);
  printFigures();
}
// `npm run bench -- --aws`: AWS API calls per leaf rotation and per scan with nothing due, on moto (AWS_ENDPOINT_URL).
if (process.argv.includes('--aws')) await import('./aws-calls.js');
// `--bundles`: bundle sizes and cold init of the Lambda functions (issue 14, target 5; packages with serverless).
if (process.argv.includes('--bundles')) (await import('./aws-bundles.js')).runBundleBench();
// `--restart-latency`: Secret change -> consumer rollouts on dc1, 1 / 100 / 1,000 consumers (issue 14, target 7; test services).
if (process.argv.includes('--restart-latency')) await (await import('./restart-latency.js')).restartLatencyBench();
if (process.argv.includes('--bundles') || process.argv.includes('--restart-latency')) printFigures();
