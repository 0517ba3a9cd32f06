/**
 * Password rotation against the test infrastructure's real PostgreSQL, strategies single and alternating: wall time
 * per rotation on the embedded runtime (vault, journal, Secrets rendered as manifests: no rollout to wait for, so
 * the figure excludes rollout waits), and what each rotation asks of the database: admin connections, statements,
 * test logins. Writes bench-results/password-rotation.json.
 *
 *   eval "$(bash test/infra/env.sh)" && npx tsx test/bench/password-rotation.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { PostgresDatabases, type DatabaseActivity } from '../../shared/adapters/postgres/index.js';
import { apply } from '../../shared/app/apply.js';
import { driveRotations, startRotation } from '../../shared/app/rotation/index.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../shared/domain/rotation/record.js';
import { localRuntime } from '../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';

const ROTATIONS = 20;
const STRATEGIES = ['single', 'alternating'] as const;

interface StrategyResult {
  readonly rotations: number;
  readonly msMean: number;
  readonly msMedian: number;
  readonly msP95: number;
  /** Per rotation, averaged. */
  readonly connects: number;
  readonly statements: number;
  readonly logins: number;
  /** Time the database calls took, per rotation (the rest is store, journal, manifests). */
  readonly dbMsMean: number;
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function benchStrategy(adminUrl: string, strategy: (typeof STRATEGIES)[number], admin: pg.Client): Promise<StrategyResult> {
  const role = `rk_bench_${strategy.slice(0, 3)}_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN`);
  const root = await makeTempDir('rekey-bench-pw-');
  try {
    const inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: benchpw}
clusters: [{name: dc1}]
credentials:
  - name: app-db
    type: password
    secret: {name: app-db, namespace: db}
    database: {engine: postgres, urlFrom: "env:BENCH_PG_URL", role: ${role}, strategy: ${strategy}, host: localhost, dbname: postgres}
`);
    const counts: Record<DatabaseActivity, number> = { connect: 0, statement: 0, login: 0 };
    const databases = new PostgresDatabases(
      { env: { BENCH_PG_URL: adminUrl } },
      {
        observe: (a) => {
          counts[a]++;
        },
      },
    );
    let dbMs = 0;
    // Time spent inside database calls: every session method, timed.
    const timed: typeof databases = {
      open: async (login) => {
        const t = performance.now();
        const s = await databases.open(login);
        dbMs += performance.now() - t;
        const wrap =
          <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
          async (...a: A): Promise<R> => {
            const start = performance.now();
            try {
              return await f(...a);
            } finally {
              dbMs += performance.now() - start;
            }
          };
        return {
          roleExists: wrap(s.roleExists.bind(s)),
          createAlternate: wrap(s.createAlternate.bind(s)),
          setPasswordVerifier: wrap(s.setPasswordVerifier.bind(s)),
          tryLogin: wrap(s.tryLogin.bind(s)),
          close: wrap(s.close.bind(s)),
        };
      },
    } as PostgresDatabases;
    const rt = localRuntime(inventory, root);
    const deps = { ...rt.deps, databases: timed };
    // First version (and, alternating, the second login's creation) outside the measure.
    const first = await apply(deps, inventory);
    await driveRotations(deps, inventory, rt.queue);
    if (strategy === 'alternating') {
      await startRotation(deps, inventory, 'app-db', { trigger: Trigger.Manual, reason: 'create the alternate' });
      await driveRotations(deps, inventory, rt.queue);
    }
    if (first.rotations.length !== 1) throw new Error('apply did not start the first password rotation');
    Object.assign(counts, { connect: 0, statement: 0, login: 0 });
    dbMs = 0;
    const ms: number[] = [];
    for (let i = 0; i < ROTATIONS; i++) {
      const t = performance.now();
      const record = await startRotation(deps, inventory, 'app-db', { trigger: Trigger.Manual, reason: 'bench' });
      await driveRotations(deps, inventory, rt.queue);
      ms.push(performance.now() - t);
      const done = await rt.journal.get(record.id);
      if (done?.status !== RotationStatus.Completed) throw new Error(`rotation ${record.id} ${done?.status}: ${done?.error}`);
    }
    const sorted = [...ms].sort((a, b) => a - b);
    return {
      rotations: ROTATIONS,
      msMean: ms.reduce((a, b) => a + b, 0) / ms.length,
      msMedian: quantile(sorted, 0.5),
      msP95: quantile(sorted, 0.95),
      connects: counts.connect / ROTATIONS,
      statements: counts.statement / ROTATIONS,
      logins: counts.login / ROTATIONS,
      dbMsMean: dbMs / ROTATIONS,
    };
  } finally {
    for (const r of [`${role}_alt`, role]) await admin.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(r)}`).catch(() => undefined);
    await removeTempDir(root);
  }
}

/** Runs both strategies and prints a table; needs PG_ADMIN_URL (the test infrastructure's PostgreSQL). */
export async function benchPasswordRotation(adminUrl: string): Promise<Record<string, StrategyResult>> {
  const url = new URL(adminUrl);
  const admin = new pg.Client({
    host: url.hostname,
    port: Number(url.port || 5432),
    database: 'postgres',
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    ssl: { rejectUnauthorized: false },
  });
  await admin.connect();
  const results: Record<string, StrategyResult> = {};
  try {
    for (const strategy of STRATEGIES) results[strategy] = await benchStrategy(adminUrl, strategy, admin);
  } finally {
    await admin.end();
  }
  const rows = [['strategy', 'rotations', 'mean ms', 'median ms', 'p95 ms', 'db ms', 'connects', 'statements', 'logins']];
  for (const [s, r] of Object.entries(results)) {
    rows.push([
      s,
      String(r.rotations),
      r.msMean.toFixed(0),
      r.msMedian.toFixed(0),
      r.msP95.toFixed(0),
      r.dbMsMean.toFixed(0),
      r.connects.toFixed(1),
      r.statements.toFixed(1),
      r.logins.toFixed(1),
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log('Password rotation on real PostgreSQL (embedded runtime, manifests: no rollout waits; per rotation)');
  console.log(rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n'));
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/password-rotation.json', JSON.stringify({ at: new Date().toISOString(), results }, null, 2) + '\n');
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const url = process.env.PG_ADMIN_URL;
  if (!url) throw new Error('set PG_ADMIN_URL: eval "$(bash test/infra/env.sh)"');
  await benchPasswordRotation(url);
}
