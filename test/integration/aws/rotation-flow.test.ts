import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { delayHandler } from '../../../functions/delay.js';
import { LocalRunner } from '../../../functions/local/runner.js';
import { coldStart, depsFor, type LambdaRuntime } from '../../../functions/lib/runtime.js';
import { restartCheckHandler, restartHandler } from '../../../functions/restart.js';
import { scheduleHandler } from '../../../functions/schedule.js';
import { stepHandler } from '../../../functions/step.js';
import { createAwsAdapters } from '../../../shared/adapters/aws/index.js';
import { SqsPoller } from '../../../shared/adapters/aws/sqs-poller.js';
import { ManifestWriter } from '../../../shared/adapters/local/manifest-writer.js';
import { startRotation } from '../../../shared/app/rotation/start.js';
import { RotationLockedError, TransientError } from '../../../shared/domain/errors.js';
import { EventType, type RekeyEvent } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { webInventoryYaml } from '../../fixtures/aws-inventories.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../shared/domain/rotation/record.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import type { EventBus } from '../../../shared/ports/event-bus.js';
import type { Journal } from '../../../shared/ports/journal.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { FakeWorkloads } from '../../unit/app/restart/fakes.js';
import { freshResources, useMoto } from './moto.js';

/**
 * A leaf rotation through the functions on real queues: schedule -> SQS FIFO -> step -> Secrets Manager, DynamoDB,
 * EventBridge -> restart rule -> restart function -> (fake) cluster -> journal -> step ... -> done. The Lambda event
 * sources are played by LocalRunner; everything AWS is moto. Cluster Secrets go to manifests on disk, restarts to
 * an in-memory cluster (the end-to-end test does both on the real dc1).
 */

let dir: string;
beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-flow-');
});
afterAll(() => removeTempDir(dir));

const inventoryYaml = (name: string) => webInventoryYaml({ name, namespace: 'shop', rootCommonName: 'flow root' });

/** Counts what was published (the real bus still gets every event). */
class CountingBus implements EventBus {
  readonly published: RekeyEvent[] = [];
  constructor(private readonly inner: EventBus) {}
  async publish(events: readonly RekeyEvent[]): Promise<void> {
    await this.inner.publish(events);
    this.published.push(...events);
  }
}

/** A journal whose next update after each step's side effect fails once, as if the worker died there. */
class DyingJournal implements Journal {
  private readonly died = new Set<string>();
  enabled = false;
  get deaths(): number {
    return this.died.size;
  }
  constructor(private readonly inner: Journal) {}
  create = (r: RotationRecord) => this.inner.create(r);
  get = (id: string) => this.inner.get(id);
  listByItem = (inventory: string, item: string) => this.inner.listByItem(inventory, item);
  listByStatus = (s: RotationRecord['status']) => this.inner.listByStatus(s);
  claimLease: Journal['claimLease'] = (id, claim) => this.inner.claimLease(id, claim);
  sweepLocks: Journal['sweepLocks'] = (o) => this.inner.sweepLocks(o);
  async update(r: RotationRecord): Promise<void> {
    const current = await this.inner.get(r.id);
    const key = `${current?.step}:${current?.attempt}`;
    if (this.enabled && current && current.step !== r.step && !this.died.has(key)) {
      this.died.add(key);
      throw new TransientError(`worker died after the side effects of step ${current.step}, before recording them`);
    }
    return this.inner.update(r);
  }
}

interface Flow {
  readonly rt: LambdaRuntime;
  readonly inventory: Inventory;
  readonly bus: CountingBus;
  readonly journal: DyingJournal;
  readonly workloads: FakeWorkloads;
  readonly restartLog: string[];
  readonly runner: LocalRunner;
  /** Step deliveries whose acknowledgement was dropped. */
  readonly unacked: string[];
}

let flow: Flow | undefined;
afterEach(async () => {
  await flow?.runner.stop();
  flow = undefined;
});

async function startFlow(options: { dropFirstAck?: boolean } = {}): Promise<Flow> {
  const r = await freshResources('flow', { stepVisibilitySeconds: 2 });
  const inventory = loadInventory(inventoryYaml(`flow-${randomBytes(4).toString('hex')}`), 'flow.yaml');
  const aws = createAwsAdapters({
    stepQueueUrl: r.stepQueueUrl,
    delayQueueUrl: r.delayQueueUrl,
    deadLetterQueueUrl: r.deadLetterQueueUrl,
    eventBusName: r.eventBusName,
    journalTable: r.journalTable,
    region: 'us-east-1',
  });
  const bus = new CountingBus(aws.events);
  const journal = new DyingJournal(aws.journal);
  const restartLog: string[] = [];
  const workloads = new FakeWorkloads('dc1', restartLog);
  workloads.existing.add(`Deployment/shop/web`);
  const clusters = new Map<string, Cluster>([
    ['dc1', { name: 'dc1', secrets: new ManifestWriter(`${dir}/${inventory.name}/dc1`), workloads }],
  ]);
  const rt = coldStart({
    env: { REKEY_EVENTS_DLQ_URL: r.eventsDeadLetterQueueUrl },
    inventory,
    aws: { ...aws, events: bus, journal },
    log: silentLogger,
    clusters: async () => clusters,
  });
  const unacked: string[] = [];
  const seen = new Set<string>();
  const step = stepHandler(() => rt);
  const runner = new LocalRunner({
    poller: new SqsPoller({ region: 'us-east-1' }),
    stepQueueUrl: r.stepQueueUrl,
    delayQueueUrl: r.delayQueueUrl,
    restartEventsQueueUrl: r.restartEventsQueueUrl,
    // The ack of each step message's first delivery is lost (the worker died after the step, before deleting it).
    step: options.dropFirstAck
      ? async (event, ctx) => {
          const response = await step(event, ctx);
          const fresh = event.Records.filter((rec) => !seen.has(rec.body));
          for (const rec of fresh) seen.add(rec.body);
          unacked.push(...fresh.map((rec) => JSON.parse(rec.body).step as string));
          return { batchItemFailures: [...response.batchItemFailures, ...fresh.map((rec) => ({ itemIdentifier: rec.messageId }))] };
        }
      : step,
    delay: delayHandler(() => ({
      queue: aws.queue,
      log: silentLogger,
      deadLetterQueueUrl: r.eventsDeadLetterQueueUrl,
      restartChecks: restartCheckHandler(() => rt),
    })),
    restart: restartHandler(() => rt),
    log: silentLogger,
  }).start();
  return { rt, inventory, bus, journal, workloads, restartLog, runner, unacked };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}: ${JSON.stringify({ invocations: flow?.runner.invocations, errors: flow?.runner.errors, last: await flow?.rt.aws.journal.listByItem(flow.inventory.name, 'web') })}`,
      );
    await new Promise((r) => setTimeout(r, 300));
  }
}

const finished = (f: Flow, id: string) =>
  until(`rotation ${id} to finish`, async () => {
    const r = await f.rt.aws.journal.get(id);
    return r && r.status !== RotationStatus.Running ? r : undefined;
  });

describe('leaf rotation through SQS, Secrets Manager, DynamoDB and EventBridge (moto)', () => {
  it('the scheduled scan issues the certificate; a forced rotation then runs every step and restarts the consumer once', async () => {
    // Prepare
    flow = await startFlow();
    const f = flow;
    const summary = await scheduleHandler(() => f.rt)({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
    const first = await finished(f, summary.rotations[0]!);
    expect(first.status).toBe(RotationStatus.Completed);

    // Act
    const deps = depsFor(f.rt, await f.rt.clusters());
    const record = await startRotation(deps, f.inventory, 'web', { trigger: Trigger.Manual, reason: 'flow test' });
    const done = await finished(f, record.id);

    // Assess
    expect(done.status).toBe(RotationStatus.Completed);
    expect(done.history.map((h) => `${h.step}:${h.status}`)).toEqual([
      'issue:completed',
      'test:completed',
      'promote:completed',
      'sync:completed',
      'restart:completed',
      'verify:completed',
    ]);
    const name = `rekey/${f.inventory.name}/web`;
    expect((await f.rt.aws.store.getVersion(name, { stage: Stage.Current }))?.versionId).toBe(record.id);
    expect((await f.rt.aws.store.getVersion(name, { stage: Stage.Previous }))?.versionId).toBe(first.id);
    expect(f.restartLog.filter((l) => l.startsWith('dc1 restart'))).toHaveLength(2); // one per rotation
    const types = f.bus.published.filter((e) => e.detail.rotationId === record.id).map((e) => e.type);
    expect(types).toContain(EventType.RestartCompleted);
    expect(types.at(-1)).toBe(EventType.RotationCompleted);
    expect(f.runner.errors).toEqual([]);
  });

  it("a worker that dies after each step's side effect is retried, and the rotation happens exactly once", async () => {
    // Prepare
    flow = await startFlow({ dropFirstAck: true });
    const f = flow;
    const summary = await scheduleHandler(() => f.rt)({});
    await finished(f, summary.rotations[0]!);
    const name = `rekey/${f.inventory.name}/web`;
    const versionsBefore = (await f.rt.aws.store.describe(name))!.versions.length;
    const restartsBefore = f.restartLog.filter((l) => l.startsWith('dc1 restart')).length;
    f.journal.enabled = true;

    // Act
    const record = await startRotation(depsFor(f.rt, await f.rt.clusters()), f.inventory, 'web', {
      trigger: Trigger.Manual,
      reason: 'fault injection',
    });
    const done = await finished(f, record.id);

    // Assess
    expect(done.status).toBe(RotationStatus.Completed);
    expect((await f.rt.aws.store.describe(name))!.versions.length).toBe(versionsBefore + 1);
    expect((await f.rt.aws.store.getVersion(name))?.versionId).toBe(record.id);
    const mine = f.bus.published.filter((e) => e.detail.rotationId === record.id);
    expect(mine.filter((e) => e.type === EventType.CertificateIssued)).toHaveLength(1);
    expect(mine.filter((e) => e.type === EventType.VersionPromoted)).toHaveLength(1);
    expect(mine.filter((e) => e.type === EventType.RotationCompleted)).toHaveLength(1);
    expect(f.restartLog.filter((l) => l.startsWith('dc1 restart')).length - restartsBefore).toBe(1);
    // Every run (the steps one delivery runs: issue ... restart, then restart ... verify once the worker is done)
    // died once after its side effects, and every first delivery lost its ack.
    expect(new Set(done.history.map((h) => h.step))).toEqual(new Set(['issue', 'test', 'promote', 'sync', 'restart', 'verify']));
    expect(f.unacked[0]).toBe('issue');
    expect(f.unacked.every((s) => s === 'issue' || s === 'restart')).toBe(true);
    expect(f.journal.deaths).toBeGreaterThanOrEqual(1);
  });

  it('two rotations of one item started at once: one runs, the other is refused (the journal lock)', async () => {
    // Prepare
    flow = await startFlow();
    const f = flow;
    const summary = await scheduleHandler(() => f.rt)({});
    await finished(f, summary.rotations[0]!);
    const deps = depsFor(f.rt, await f.rt.clusters());

    // Act
    const results = await Promise.allSettled(
      [1, 2].map((n) => startRotation(deps, f.inventory, 'web', { trigger: Trigger.Manual, reason: `race ${n}` })),
    );

    // Assess
    const started = results.filter((r): r is PromiseFulfilledResult<RotationRecord> => r.status === 'fulfilled');
    expect(started).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(RotationLockedError);
    const done = await finished(f, started[0]!.value.id);
    expect(done.status).toBe(RotationStatus.Completed);
    expect((await f.rt.aws.journal.listByItem(f.inventory.name, 'web')).filter((r) => r.status === RotationStatus.Running)).toEqual([]);
  });
});
