import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { delayHandler } from '../../../functions/delay.js';
import { restartCheckHandler, restartHandler } from '../../../functions/restart.js';
import type { DelayedRestartCheck } from '../../../shared/adapters/aws/sqs-step-queue.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { RestartState } from '../../../shared/domain/rotation/record.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import type { RestartCheck } from '../../../shared/ports/restart-checks.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { RESTART_AT, restartRequestedEvent, rotationAtRestart } from './restart-fixture.js';
import { FakeWorkloads } from '../app/restart/fakes.js';
import { RecordingQueue, testRuntime, type TestRuntime } from './fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-fn-restart-checks-');
});
afterEach(() => removeTempDir(dir));

const AT = RESTART_AT;

/** RecordingQueue with a delay queue: the restart worker leaves its rollouts to checks, recorded here. */
class CheckingQueue extends RecordingQueue {
  readonly hasDelayQueue = true;
  readonly checks: { check: RestartCheck; delaySeconds: number }[] = [];
  /** Throws once, after the journal named the run (the worker dies before its check is queued). */
  dieOnce = false;
  async scheduleRestartCheck(check: RestartCheck, delaySeconds: number): Promise<void> {
    if (this.dieOnce) {
      this.dieOnce = false;
      throw new Error('worker died');
    }
    this.checks.push({ check: structuredClone(check), delaySeconds });
  }
}

const rotation = rotationAtRestart;
const restartRequested = restartRequestedEvent;

/** dc1 whose consumer rolls out after `polls` readings; a runtime whose queue takes restart checks. */
async function setup(polls: number): Promise<{ rt: TestRuntime; queue: CheckingQueue; workloads: FakeWorkloads; log: string[] }> {
  const log: string[] = [];
  const workloads = new FakeWorkloads('dc1', log);
  workloads.existing.add('Deployment/shop/web');
  workloads.pollsToRollOut = polls;
  const clusters = new Map<string, Cluster>([
    [
      'dc1',
      {
        name: 'dc1',
        secrets: { listSecrets: async () => [], getSecret: async () => undefined, writeSecret: async () => 'unchanged' },
        workloads,
      },
    ],
  ]);
  const base = testRuntime(dir, { clusters });
  const queue = new CheckingQueue();
  const rt = { ...base, queue, aws: { ...base.aws, queue } };
  await rt.journal.create(rotation());
  return { rt, queue, workloads, log };
}

/** Runs the queued checks one after another (as the delay queue brings them back) until none is left. */
async function runChecks(rt: TestRuntime, queue: CheckingQueue): Promise<number> {
  let runs = 0;
  for (let next = queue.checks.shift(); next; next = queue.checks.shift()) {
    await restartCheckHandler(() => rt)(next.check);
    runs++;
  }
  return runs;
}

describe('restart function with a delay queue: rollouts checked later, not waited for', () => {
  it('starts the rollout, names the run in the journal and returns; later checks end it with the usual record and event', async () => {
    // Prepare: the rollout is not done within the worker's hold (three readings)
    const { rt, queue, workloads } = await setup(5);

    // Act
    await restartHandler(() => rt)(restartRequested());

    // Assess: started, not finished, the run recorded and a check queued
    expect(workloads.calls).toEqual(['restart Deployment/shop/web']);
    const entry = (await rt.journal.get('rot-1'))!.restarts.dc1!;
    expect(entry).toMatchObject({ state: RestartState.Requested, rollout: { versionsHash: 'h1', started: ['Deployment/shop/web'] } });
    expect(queue.checks).toHaveLength(1);
    expect(queue.checks[0]!.check.run).toBe(entry.rollout!.run);
    expect(queue.checks[0]!.delaySeconds).toBeGreaterThan(0);
    expect(rt.bus.published).toEqual([]);

    // Act: the checks the delay queue brings back
    const runs = await runChecks(rt, queue);

    // Assess: two checks (readings 4 and 5), then the same ending as a worker that waited
    expect(runs).toBe(2);
    expect((await rt.journal.get('rot-1'))!.restarts.dc1?.state).toBe(RestartState.Completed);
    const completed = rt.bus.published.filter((e) => e.type === EventType.RestartCompleted);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.detail).toMatchObject({ cluster: 'dc1', rotationId: 'rot-1', restarted: ['Deployment/shop/web'], unchanged: [] });
    expect(workloads.calls).toEqual(['restart Deployment/shop/web']);
  });

  it('a rollout that is not done by the deadline fails the cluster with the deadline message, from a check', async () => {
    // Prepare
    const { rt, queue, workloads } = await setup(1);
    workloads.held.add('Deployment/shop/web');
    const deadline = new Date(Date.now() + 1_500).toISOString();
    await restartHandler(() => rt)(restartRequested({ deadline }));
    expect(queue.checks).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1_600));

    // Act
    await runChecks(rt, queue);

    // Assess
    const entry = (await rt.journal.get('rot-1'))!.restarts.dc1!;
    expect(entry.state).toBe(RestartState.Failed);
    expect(entry.message).toMatch(/Deployment\/shop\/web: not done by .*: 0 of 1 new replicas have been updated \(held/);
    const failed = rt.bus.published.filter((e) => e.type === EventType.RestartFailed);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.detail).toMatchObject({ failed: ['Deployment/shop/web'], deadline });
  });

  it.each([
    ['after its check was queued (the event is delivered again)', false],
    ['after the journal named its run, before its check was queued', true],
  ])('a worker lost %s: the pods restart once, one run goes on, one outcome', async (_, dies) => {
    // Prepare: the first delivery starts the rollout and is lost (each worker reads it three times while it holds)
    const { rt, queue, workloads, log } = await setup(9);
    queue.dieOnce = dies;
    const first = restartHandler(() => rt)(restartRequested());
    if (dies) await expect(first).rejects.toThrow('worker died');
    else await first;

    // Act: the event is delivered again (Lambda's retry), then every queued check runs
    await restartHandler(() => rt)(restartRequested());
    const runs = await runChecks(rt, queue);

    // Assess: patched once (the second patch finds the hash and changes nothing), reported as restarted once
    expect(log.filter((l) => l.startsWith('dc1 restart'))).toEqual(['dc1 restart Deployment/shop/web']);
    expect(runs).toBeGreaterThanOrEqual(3);
    const completed = rt.bus.published.filter((e) => e.type === EventType.RestartCompleted);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.detail).toMatchObject({ restarted: ['Deployment/shop/web'], unchanged: [] });
    expect((await rt.journal.get('rot-1'))!.restarts.dc1?.state).toBe(RestartState.Completed);
    expect(workloads.calls.filter((c) => c === 'restart Deployment/shop/web')).toHaveLength(2);
  });

  it('a check delivered again after the cluster finished does nothing', async () => {
    // Prepare
    const { rt, queue } = await setup(4);
    await restartHandler(() => rt)(restartRequested());
    const check = queue.checks[0]!.check;
    await runChecks(rt, queue);
    const published = rt.bus.published.length;

    // Act
    await restartCheckHandler(() => rt)(check);

    // Assess
    expect(rt.bus.published).toHaveLength(published);
    expect(queue.checks).toEqual([]);
  });
});

describe('delay function: restart checks', () => {
  const check = { request: restartRequested().detail, run: 'run-1', startedAt: AT, rolling: {}, blocked: {}, ended: [], checkSeconds: 5 };
  const record = (body: unknown, id: string) => ({
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1' },
  });

  it('runs a due check and puts one that is not due back for the time left', async () => {
    // Prepare
    const held: DelayedRestartCheck[] = [];
    const ran: RestartCheck[] = [];
    const queue = {
      relay: async () => 'ready' as const,
      deadLetter: async () => undefined,
      holdRestartCheck: async (d: DelayedRestartCheck) => {
        const later = Date.parse(d.notBefore) > Date.now();
        if (later) held.push(d);
        return later;
      },
    };
    const handler = delayHandler(() => ({ queue, log: silentLogger, restartChecks: async (c) => void ran.push(c) }));
    const due = { restartCheck: check, notBefore: new Date(Date.now() - 1_000).toISOString() };
    const later = { restartCheck: { ...check, run: 'run-2' }, notBefore: new Date(Date.now() + 60_000).toISOString() };

    // Act
    const response = await handler({ Records: [record(due, 'a'), record(later, 'b')] });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(ran.map((c) => c.run)).toEqual(['run-1']);
    expect(held.map((d) => d.restartCheck.run)).toEqual(['run-2']);
  });

  it('dead-letters a malformed restart check with the field at fault', async () => {
    // Prepare
    const dead: string[] = [];
    const queue = { relay: async () => 'ready' as const, deadLetter: async (_b: string, reason: string) => void dead.push(reason) };
    const handler = delayHandler(() => ({ queue, log: silentLogger }));

    // Act
    const response = await handler({ Records: [record({ restartCheck: { ...check, run: '' }, notBefore: AT }, 'a')] });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(dead).toEqual([expect.stringMatching(/^malformed delayed step: restartCheck\.run: /)]);
  });
});
