import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allUnits, type Unit } from '../../../shared/domain/units.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import {
  AUTHORITIES,
  CERTIFICATES,
  CrashBench,
  currentVersions,
  flipAuthority,
  flipLeaves,
  prng,
  verifyCertificates,
  violations,
  type RunResult,
} from './harness.js';

// Real `rekey` processes on 500 certificates, SIGKILLed at random moments. The PRNG decides what each round
// changes, when it kills and how it re-runs; its seed is printed so a failing sequence can be replayed
// (REKEY_CRASH_SEED=<seed>; the instant a kill lands still depends on the machine's speed).
const SEED = Number(process.env.REKEY_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const APPLY_KILLS = Number(process.env.REKEY_CRASH_APPLY_KILLS ?? 20);
const ROTATE_KILLS = Number(process.env.REKEY_CRASH_ROTATE_KILLS ?? 12);
/** Openssl-verified certificates per round, besides those the round touched for sure. */
const SAMPLE = 20;

type Command = 'apply' | { rotate: string };
type KillPlan = (p: { events: number; ms: number }) => boolean;

const rnd = prng(SEED);
const tally = { tried: 0, survived: 0, finishedBeforeKill: 0 };
/** Where the kills landed, per command: how many event lines the killed process had written by then. */
const landed: Record<string, number[]> = { apply: [], rotate: [] };
const failures: string[] = [];
let root: string;
let bench: CrashBench;
/** From the first, uninterrupted apply: time to its first event (start-up) and from there to its end (work). */
let startupMs = 1000;
let workMs = 3000;

beforeAll(async () => {
  console.log(`crash test seed: ${SEED} (REKEY_CRASH_SEED=${SEED} replays the same choices)`);
  root = await makeTempDir('rekey-crash-');
  bench = new CrashBench(root);
  const first = await bench.run('apply');
  expect(first.code, first.stderr).toBe(0);
  startupMs = first.firstEventMs ?? startupMs;
  workMs = Math.max(500, first.ms - startupMs);
}, 600_000);

afterAll(async () => {
  console.log(
    `crash test seed ${SEED}: kills survived / tried: ${tally.survived} / ${tally.tried} (${tally.finishedBeforeKill} run(s) finished before their kill)`,
  );
  for (const [command, events] of Object.entries(landed)) {
    const early = events.filter((e) => e === 0).length;
    console.log(
      `  ${command}: ${events.length} kill(s), ${early} before the first event (start-up, lock, recovery), events written at the others: ${events
        .filter((e) => e > 0)
        .sort((a, b) => a - b)
        .join(' ')}`,
    );
  }
  await removeTempDir(root);
});

const describeCommand = (c: Command) => (c === 'apply' ? 'apply' : `rotate ${c.rotate}`);

/** A kill at a random instant: mostly while the run works (after its first event), sometimes during start-up. */
function killWhileWorking(expectedWorkMs: number): KillPlan {
  if (rnd.chance(0.15)) {
    const at = rnd.next() * startupMs * 1.2;
    return ({ ms }) => ms >= at;
  }
  const after = rnd.next() * expectedWorkMs;
  let armed: number | undefined;
  return ({ events, ms }) => {
    if (events > 0 && armed === undefined) armed = ms;
    return armed !== undefined && ms - armed >= after;
  };
}

/** A kill just after the run's n-th event: lands in a chosen step of a rotation (or in recovery before it). */
function killAfterEvents(): KillPlan {
  if (rnd.chance(0.1)) {
    const at = rnd.next() * startupMs * 1.2;
    return ({ ms }) => ms >= at;
  }
  // A one-unit rotation writes about ten event lines (started, issued, steps, promoted, synced, completed).
  const n = 1 + rnd.int(10);
  // Half the kills go in as soon as the n-th event is seen: the first steps of a rotation take milliseconds.
  const extra = rnd.chance(0.5) ? 0 : rnd.next() * 15;
  let reached: number | undefined;
  return ({ events, ms }) => {
    if (events >= n && reached === undefined) reached = ms;
    return reached !== undefined && ms - reached >= extra;
  };
}

/**
 * One round: `first` is killed (and, one time in five, the re-run is killed too), then one re-run must exit 0
 * and leave everything consistent. Returns the kills that landed.
 */
async function round(label: string, first: Command, rerun: Command, plan: () => KillPlan, touched: readonly Unit[]): Promise<number> {
  const before = await currentVersions(bench);
  const known = new Set(bench.records().map((r) => r.id));
  const runs: string[] = [];
  let kills = 0;
  const killTimes = rnd.chance(0.2) ? 2 : 1;
  for (let k = 0; k < killTimes; k++) {
    const command = k === 0 ? first : rerun;
    const r: RunResult = await bench.spawnKillable(command, plan());
    runs.push(`${describeCommand(command)}: ${r.killed ? `killed after ${r.ms} ms` : `exit ${r.code}`}`);
    if (!r.killed) {
      tally.finishedBeforeKill++;
      if (r.code !== 0) failures.push(`${label}: ${describeCommand(command)} (not killed) exited ${r.code}: ${r.stderr.slice(0, 400)}`);
      break;
    }
    kills++;
    landed[command === 'apply' ? 'apply' : 'rotate']!.push(r.eventsAtKill ?? 0);
  }
  if (kills === 0) return 0;
  tally.tried += kills;

  const again = await bench.run(rerun);
  runs.push(`${describeCommand(rerun)}: exit ${again.code}`);
  const problems = again.code === 0 ? [] : [`re-run exited ${again.code}: ${again.stderr.slice(0, 600)}`];
  problems.push(...(await violations(bench, before, known)));
  const units = allUnits(bench.inventory).filter((u) => u.item.kind === 'certificate');
  const sample = [...touched, ...Array.from({ length: SAMPLE }, () => rnd.pick(units))];
  problems.push(...verifyCertificates(bench, sample, root));
  if (problems.length)
    failures.push(
      `${label} [${runs.join('; ')}]:\n  ${problems.slice(0, 12).join('\n  ')}${problems.length > 12 ? `\n  ... ${problems.length - 12} more` : ''}`,
    );
  else tally.survived += kills;
  return kills;
}

describe(`crash recovery: ${CERTIFICATES} certificates, SIGKILL at random moments, then one re-run (seed ${SEED})`, () => {
  it(
    `apply killed while re-issuing (every leaf, or one CA and its leaves): ${APPLY_KILLS}+ kills, each followed by one re-run that exits 0`,
    async () => {
      // Prepare: every round forces renewals by changing the spec, so the killed apply has real work to do.
      let kills = 0;
      for (let n = 1; kills < APPLY_KILLS && n <= APPLY_KILLS * 3; n++) {
        const everyLeaf = rnd.chance(0.3);
        const ca = rnd.int(AUTHORITIES);
        const inventory = bench.setVariant(everyLeaf ? flipLeaves(bench.variant) : flipAuthority(bench.variant, ca));
        const touched = allUnits(inventory).filter((u) => u.item.kind === 'certificate' && (everyLeaf || u.item.issuer === `ca-${ca}`));
        // Act + Assess (per round, collected so one bad round does not hide the others' figures)
        kills += await round(
          `apply round ${n} (${everyLeaf ? 'every leaf' : `ca-${ca} and its leaves`})`,
          'apply',
          'apply',
          () => killWhileWorking(everyLeaf ? workMs : workMs / 4),
          touched.slice(0, 5),
        );
      }
      expect(failures).toEqual([]);
      expect(kills).toBeGreaterThanOrEqual(APPLY_KILLS);
    },
    30 * 60_000,
  );

  it(
    `rotate killed at any step: ${ROTATE_KILLS}+ kills, each followed by one re-run of rotate or apply that exits 0`,
    async () => {
      let kills = 0;
      const units = allUnits(bench.inventory);
      for (let n = 1; kills < ROTATE_KILLS && n <= ROTATE_KILLS * 3; n++) {
        // Prepare: a single leaf, or the per-replica certificate (three units in one rotation).
        const item = rnd.chance(0.25) ? 'pool' : `svc-${rnd.int(CERTIFICATES)}`;
        const rerun: Command = rnd.chance(0.6) ? { rotate: item } : 'apply';
        // Act + Assess
        kills += await round(
          `rotate round ${n} (${item}, re-run ${describeCommand(rerun)})`,
          { rotate: item },
          rerun,
          killAfterEvents,
          units.filter((u) => u.item.name === item),
        );
      }
      expect(failures).toEqual([]);
      expect(kills).toBeGreaterThanOrEqual(ROTATE_KILLS);
    },
    20 * 60_000,
  );

  it(
    'after every kill: all certificates verify with openssl, nothing pending, running or locked, no torn event line',
    async () => {
      // Act
      const problems = await violations(bench, new Map(), new Set());
      const leaves = allUnits(bench.inventory).filter((u) => u.item.kind === 'certificate');
      const unverified = verifyCertificates(bench, leaves, root);
      // Assess
      expect(problems).toEqual([]);
      expect(unverified).toEqual([]);
      expect(leaves.length).toBe(CERTIFICATES + 3);
      expect(bench.tornEventLines()).toBe(0);
      expect(tally.tried).toBeGreaterThanOrEqual(APPLY_KILLS + ROTATE_KILLS);
      expect(tally.survived).toBe(tally.tried);
    },
    5 * 60_000,
  );
});
