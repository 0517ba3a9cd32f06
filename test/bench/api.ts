/**
 * The API under load with autocannon: `rekey serve` as its own process (HTTPS, self-signed, rate limit off) over an
 * applied inventory of 100 certificates, an ES256 token with every scope. Measures latency (p50, p99) and requests
 * per second of the authenticated `GET /v1/items` (status of every unit, from the read model) and of the open
 * `GET /healthz` at a fixed offered rate of 1,000 req/s (autocannon -R 1000) in the same run, then at full speed,
 * and of an authenticated `POST /v1/alerts/alertmanager` (body validated, one decision and event per request);
 * plus the Lambda handler's time per warm request in this process. Figures, not assertions.
 * `npx tsx test/bench/api.ts` alone (writes bench-results/api.json), or as part of `npm run bench`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { apiHandler, type HttpApiEvent } from '../../functions/api.js';
import { coldStart, type FunctionQueue } from '../../functions/lib/runtime.js';
import { leveledJsonLogger } from '../../shared/app/api/json-logger.js';
import { apply } from '../../shared/app/apply.js';
import { ensureApiSigningKey, mintApiToken } from '../../shared/app/api/signing-key.js';
import { ALL_SCOPES } from '../../shared/app/api/scopes.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { composeLocal } from '../../cli/compose.js';
import { silentLogger } from '../../shared/ports/logger.js';
import { syntheticInventory } from './inventory-gen.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'cli/main.ts');
const DURATION_S = 10;
/**
 * Connections of the fixed-rate runs (REKEY_BENCH_API_CONNECTIONS, default 25). autocannon gives each an equal share
 * of the rate per second, sent back to back and dropped if the second ends first: with 10 connections (100 each) a
 * connection whose answers take over 10 ms cannot keep up, and the offered 1,000 is never sent on a loaded machine.
 */
const RATE_CONNECTIONS = Number(process.env.REKEY_BENCH_API_CONNECTIONS ?? 25);

export interface LoadFigures {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
}

function load(options: autocannon.Options): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    autocannon(options, (err, r) => {
      if (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      resolve({
        requests: r.requests.total,
        perSecond: Math.round(r.requests.average),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
      });
    });
  });
}

async function startServe(state: string, inventory: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI,
      '--state',
      state,
      'serve',
      '-f',
      inventory,
      '--http-port',
      '0',
      '--grpc-port',
      'off',
      '--address',
      '127.0.0.1',
      '--rate-limit',
      '0',
      '--log-level',
      'warn',
    ],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"listening"'));
      if (line) resolve((JSON.parse(line) as { listening: { https: number } }).listening.https);
    });
  });
  return {
    port,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const alertBody = (i: number) =>
  JSON.stringify({
    version: '4',
    status: 'firing',
    receiver: 'rekey',
    groupKey: '{}:{}',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'BenchNoRule', n: String(i) },
        annotations: {},
        startsAt: new Date().toISOString(),
        fingerprint: `bench-${i}`,
      },
    ],
  });

/** Mean time of the Lambda handler per warm GET /v1/items, in this process (embedded adapters, no network). */
async function lambdaPerRequestMs(work: string, text: string, n: number): Promise<number> {
  const inv = loadInventory(text);
  const { deps, queue } = await composeLocal(inv, { stateDir: join(work, 'lambda'), target: { kind: 'none' }, log: silentLogger });
  await apply(deps, inv);
  const { material } = await ensureApiSigningKey(deps.store, inv.name);
  const token = await mintApiToken(material, { inventory: inv.name, scopes: ['items:read'], ttlSeconds: 3600 });
  const logger = leveledJsonLogger({ level: 'warn', write: () => undefined });
  const fnQueue = Object.assign(queue, { postpone: async () => undefined, deadLetter: async () => undefined }) as unknown as FunctionQueue;
  const rt = coldStart({
    env: {},
    inventory: inv,
    aws: { store: deps.store, journal: deps.journal, events: deps.events, queue: fnQueue },
    log: logger,
    clusters: async () => new Map(),
  });
  const handle = apiHandler(() => ({ rt, logger }), { write: () => undefined, rateLimit: false });
  const event = (_i: number): HttpApiEvent => ({
    version: '2.0',
    rawPath: '/v1/items',
    headers: { authorization: `Bearer ${token}` },
    requestContext: { http: { method: 'GET', sourceIp: '198.51.100.1' } },
  });
  for (let i = 0; i < 50; i++) await handle(event(n + i)); // warm: key set cached, code paths compiled
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = await handle(event(i));
    if (r.statusCode !== 200) throw new Error(`lambda answered ${r.statusCode}`);
  }
  return Number(process.hrtime.bigint() - start) / 1e6 / n;
}

/** Runs the API bench; returns its figures (also printed). */
export async function benchApi(): Promise<Record<string, unknown>> {
  const work = mkdtempSync(join(tmpdir(), 'rekey-bench-api-'));
  try {
    const text = syntheticInventory({ name: 'benchapi', certificates: 100, authorities: 1, key: 'ECDSA-P256' });
    const inventory = join(work, 'inventory.yaml');
    writeFileSync(inventory, text);
    const state = join(work, 'state');
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', CLI, '--state', state, ...args], { cwd: REPO, encoding: 'utf8' });
    const applied = cli(['apply', '-f', inventory, '--out', join(work, 'out')]);
    if (applied.status !== 0) throw new Error(`apply failed: ${applied.stderr}`);
    const token = cli(['token', '-f', inventory, '--scope', ALL_SCOPES.join(' '), '--ttl', '1h']).stdout.trim();
    const serve = await startServe(state, inventory);
    const auth = { authorization: `Bearer ${token}` };
    const url = (path: string) => `https://127.0.0.1:${serve.port}${path}`;
    let figures: Record<string, LoadFigures>;
    let loadBefore: number[] = [];
    let loadAfter: number[] = [];
    try {
      await load({ url: url('/v1/items'), headers: auth, connections: RATE_CONNECTIONS, duration: 5 }); // warm up (JIT)
      loadBefore = loadavg();
      // autocannon -R 1000: a fixed offered rate, the figure; /healthz at the same rate beside it.
      const fixed = { connections: RATE_CONNECTIONS, overallRate: 1000, duration: DURATION_S };
      const items1k = await load({ url: url('/v1/items'), headers: auth, ...fixed });
      const healthz1k = await load({ url: url('/healthz'), ...fixed });
      const items = await load({ url: url('/v1/items'), headers: auth, connections: 10, duration: DURATION_S });
      let n = 0;
      const alerts = await load({
        url: url('/v1/alerts/alertmanager'),
        connections: 10,
        duration: DURATION_S,
        requests: [
          {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, body: alertBody(n++) }),
          },
        ],
      });
      const healthz = await load({ url: url('/healthz'), connections: 10, duration: 5 });
      loadAfter = loadavg();
      figures = {
        'GET /v1/items (100 items) at -R 1000': items1k,
        'GET /healthz (open) at -R 1000': healthz1k,
        'GET /v1/items (100 items), full speed': items,
        'POST /v1/alerts/alertmanager': alerts,
        'GET /healthz (open), full speed': healthz,
      };
    } finally {
      await serve.stop();
    }
    const lambdaMs = await lambdaPerRequestMs(work, text, 500);
    const rows = [
      [`rekey serve (HTTPS; -R 1000: ${RATE_CONNECTIONS} connections, else 10)`, 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors'],
    ];
    for (const [name, f] of Object.entries(figures))
      rows.push([name, String(f.perSecond), String(f.p50Ms), String(f.p99Ms), String(f.non2xx), String(f.errors)]);
    console.log('\nAPI');
    console.log(rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(42) : c.padStart(8))).join('  ')).join('\n'));
    console.log(`Lambda handler, warm GET /v1/items (100 items), in process: ${lambdaMs.toFixed(2)} ms per request`);
    const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    console.log(`load average (1, 5, 15 min): ${la(loadBefore)} before, ${la(loadAfter)} after the serve runs; ${cpus().length} cores`);
    return {
      at: new Date().toISOString(),
      node: process.version,
      durationSeconds: DURATION_S,
      loadAverage: { before: loadBefore, after: loadAfter, cores: cpus().length },
      serve: figures,
      lambdaWarmGetItemsMs: Number(lambdaMs.toFixed(3)),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await benchApi();
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/api.json', JSON.stringify(results, null, 2) + '\n');
  console.log('\nwrote bench-results/api.json');
}
