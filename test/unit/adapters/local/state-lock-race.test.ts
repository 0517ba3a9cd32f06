import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { startTicksOf } from '../../../../shared/adapters/local/process-identity.js';
import { loadVaultKey } from '../../../../shared/adapters/local/vault-key.js';
import { REPO_ROOT } from '../../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const BIN = join(REPO_ROOT, 'bin', 'rekey.js');
const BARRIER = fileURLToPath(new URL('../../../fixtures/lock-barrier.mjs', import.meta.url));
/** At least 20 (REKEY_LOCK_TRIALS may raise it; lower only to try the test itself). */
const TRIALS = Number(process.env.REKEY_LOCK_TRIALS ?? 20);
const WRITERS = 4;
const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: race}
authorities: [{name: ca, commonName: race-ca}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, secret: {name: web, namespace: shop}}
  - {name: api, issuer: ca, usage: server, commonName: api, secret: {name: api, namespace: shop}}
  - {name: db, issuer: ca, usage: client, commonName: db, secret: {name: db, namespace: shop}}
`;
const UNITS = 4;
const LOCKED =
  /^rekey: state folder .* is locked by rekey pid \d+ \(process started \d{4}-\d\d-\d\dT[^,]+, lock taken [^)]+\); try again when it has finished\n$/;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function applyProcess(state: string, out: string, file: string, barrier: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', BARRIER, BIN, '--json', 'apply', '-f', file, '--state', state, '--out', out],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, REKEY_VAULT_KEY: undefined, REKEY_TEST_LOCK_BARRIER: barrier, REKEY_TEST_LOCK_BARRIER_N: String(WRITERS) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A pid that certainly ran and exited. */
const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());

/** The stale locks a killed rekey (or an older one) leaves, one kind per trial in turn. */
const STALE_LOCKS: ReadonlyArray<(unrelated: number) => string> = [
  // the holder was killed: its pid is gone
  () =>
    JSON.stringify({
      pid: deadPid(),
      startTicks: 1,
      bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      host: hostnameOf(),
      nonce: 'killed-holder',
      acquiredAt: '2026-01-01T00:00:00Z',
    }),
  // PID reuse: the pid now belongs to a live, unrelated process with another start time
  (unrelated) =>
    JSON.stringify({
      pid: unrelated,
      startTicks: (startTicksOf(unrelated) ?? 0) - 1,
      host: hostnameOf(),
      nonce: 'reused-pid',
      acquiredAt: '2026-01-01T00:00:00Z',
    }),
  // before the last boot
  () =>
    JSON.stringify({
      pid: process.pid,
      startTicks: startTicksOf(process.pid),
      bootId: '00000000-0000-0000-0000-000000000000',
      host: hostnameOf(),
      nonce: 'other-boot',
      acquiredAt: '2026-01-01T00:00:00Z',
    }),
  // an older rekey's lock: a bare pid, dead, or reused by a process that is not rekey
  () => String(deadPid()),
  (unrelated) => String(unrelated),
];
const hostnameOf = (): string => spawnSync('hostname').stdout.toString().trim();

let root: string;
let unrelated: ReturnType<typeof spawn>;
beforeAll(async () => {
  root = await makeTempDir('rekey-lock-race-');
  unrelated = spawn('sleep', ['600'], { stdio: 'ignore' });
});
afterAll(async () => {
  unrelated.kill('SIGKILL');
  await removeTempDir(root);
});

describe('the state lock under a race', () => {
  it(`stale lock + ${WRITERS} concurrent apply processes, ${TRIALS} trials: exactly one writer each time, every promoted version survives`, async () => {
    // Prepare
    const file = join(root, 'inventory.yaml');
    writeFileSync(file, INVENTORY);
    const races: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const state = join(root, `state-${trial}`);
      const out = join(root, `out-${trial}`);
      const barrier = join(root, `barrier-${trial}`);
      mkdirSync(state, { mode: 0o700 });
      mkdirSync(barrier);
      writeFileSync(join(state, 'lock'), STALE_LOCKS[trial % STALE_LOCKS.length]!(unrelated.pid!));

      // Act
      const runs = await Promise.all(Array.from({ length: WRITERS }, () => applyProcess(state, out, file, barrier)));

      // Assess: each run either applied, or was refused naming the live holder (pid and start time)
      const problems: string[] = [];
      const issuedBy = runs.map((r, i) => {
        if (r.code === 0)
          return (JSON.parse(r.stdout) as { decisions: Array<{ action: string }> }).decisions.filter((d) => d.action === 'issue').length;
        if (r.code !== 1 || !LOCKED.test(r.stderr)) problems.push(`run ${i} exit ${r.code}: ${r.stderr.trim().split('\n')[0]}`);
        return 0;
      });
      const writers = issuedBy.filter((n) => n > 0).length;
      const issued = issuedBy.reduce((a, b) => a + b, 0);
      if (writers !== 1 || issued !== UNITS) problems.push(`${writers} writers issued ${issued} versions for ${UNITS} units`);
      // every version the manifests name is the current one in the vault (no writer's promotion was lost)
      try {
        const vault = new FileVault(join(state, 'vault'), (await loadVaultKey(state, {}, { create: false }))!);
        for (const name of ['web', 'api', 'db']) {
          const manifest = readFileSync(join(out, 'default', 'shop', `${name}.yaml`), 'utf8');
          const current = (await vault.getVersion(`rekey/race/${name}`))?.versionId;
          if (!manifest.includes(`rekey/version: ${current}`))
            problems.push(`${name}: the manifest names a version that is not current in the vault`);
        }
      } catch (e) {
        problems.push(`the vault does not read back: ${(e as Error).message}`);
      }
      const left = readdirSync(state).filter((f) => f.startsWith('lock') || f.endsWith('.tmp'));
      if (left.length) problems.push(`left behind: ${left.join(', ')}`);
      if (problems.length) races.push(`trial ${trial}: ${problems.join('; ')}`);
    }
    // The figure for the report: lock races / trials
    console.info(`state lock: ${races.length} races / ${TRIALS} trials (${WRITERS} concurrent apply processes each, stale lock first)`);
    expect(races).toEqual([]);
  }, 600_000);
});
