/**
 * One region, simulated: the real Lambda handlers (step, restart, delay) and use cases (startRotation and the
 * rotation steps, restarts) over the real AWS adapters (SecretsManagerStore, SqsStepQueue, EventBridgeBus), whose
 * SDK clients are emulated in virtual time (secrets-manager.ts, sqs.ts, eventbridge.ts), an in-memory journal,
 * and one simulated cluster per inventory cluster. The global timers run on the virtual clock, so the use cases'
 * own waits (rollout polls, backoffs, deadlines) take simulated time only.
 */
import { EventBridgeBus, type EventBridgeBusOptions } from '../../../shared/adapters/aws/eventbridge-bus.js';
import { SecretsManagerStore, type SecretsManagerStoreOptions } from '../../../shared/adapters/aws/secrets-manager-store.js';
import { SqsStepQueue, type SqsStepQueueOptions } from '../../../shared/adapters/aws/sqs-step-queue.js';
import { startRotation } from '../../../shared/app/rotation/start.js';
import { RotationLockedError } from '../../../shared/domain/errors.js';
import { mapLimit } from '../../../shared/app/concurrency.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { issueMaterial, issuerMaterialOf } from '../../../shared/domain/pki/issue.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { encodeMaterial } from '../../../shared/domain/store/material.js';
import { Annotation, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../../shared/domain/sync/desired.js';
import { specHashOf, unitsOf } from '../../../shared/domain/units.js';
import type { Logger } from '../../../shared/ports/logger.js';
import { delayHandler } from '../../../functions/delay.js';
import { restartCheckHandler, restartHandler } from '../../../functions/restart.js';
import { stepHandler } from '../../../functions/step.js';
import { coldStart, depsFor } from '../../../functions/lib/runtime.js';
import type { LambdaContext, SqsRecord } from '../../../functions/lib/lambda.js';
import { SimCluster, type ClusterOptions } from './cluster.js';
import { EmulatedEventBridge, type EventBridgeOptions } from './eventbridge.js';
import type { FifoMessage } from './fifo-queue.js';
import { MemoryJournal } from './journal.js';
import { LambdaRegion, type LambdaOptions } from './lambda.js';
import { EmulatedSecretsManager, type SecretsManagerOptions } from './secrets-manager.js';
import { EmulatedSqs, QueueUrls } from './sqs.js';
import { VirtualTime } from './virtual-time.js';

export interface SimOptions {
  readonly certificates: number;
  readonly clusters: number;
  readonly authorities?: number;
  readonly namespaces?: number;
  /** Rotations the scheduled scan starts at once (it calls startRotation per due item). */
  readonly startConcurrency?: number;
  /** Stop after this much simulated time even if rotations are left (minutes). */
  readonly limitMinutes?: number;
  readonly secretsManager?: SecretsManagerOptions;
  readonly eventBridge?: EventBridgeOptions;
  readonly lambda?: LambdaOptions;
  readonly cluster?: ClusterOptions;
  /** Called about every simulated minute. */
  readonly progress?: (line: string) => void;
}

export interface SimResult {
  readonly certificates: number;
  readonly clusters: number;
  readonly completed: number;
  readonly failed: number;
  /** From the first start to the last rotation finished (or the limit), simulated minutes. */
  readonly minutes: number;
  /** Until every rotation was started, simulated minutes. */
  readonly startMinutes: number;
  /** Completion instants, ms after the start, sorted. */
  readonly completions: readonly number[];
  readonly secretsManager: {
    readonly pendingOnCurrent: number;
    readonly writes: number;
    readonly writesPerRotation: number;
    readonly throttles: number;
    readonly calls: Record<string, number>;
    readonly peakWritesPerSecond: number;
  };
  readonly eventBridge: { readonly calls: number; readonly throttles: number; readonly entries: Record<string, number> };
  readonly sqs: { readonly calls: Record<string, number>; readonly deadLetters: number };
  readonly journal: Record<string, number>;
  readonly lambda: {
    readonly peakConcurrency: number;
    readonly asyncQueuedPeak: number;
    readonly functions: Record<string, { invocations: number; coldStarts: number; peak: number }>;
  };
  readonly clusterRequests: number;
  /** Mean time a cluster request waited for its client rate limiter, ms. */
  readonly clusterWaitMs: number;
  /** Restart -> rollout finished, median seconds. */
  readonly rolloutMedianSeconds: number;
  readonly warnings: Record<string, number>;
  readonly realSeconds: number;
}

/** The simulated inventory: `certificates` leaves over `clusters` clusters, each with a consumer Deployment. */
export function simInventory(options: Pick<SimOptions, 'certificates' | 'clusters' | 'authorities' | 'namespaces'>): string {
  const authorities = options.authorities ?? 10;
  const namespaces = options.namespaces ?? 10;
  const lines = [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    'metadata: {name: sim}',
    'defaults: {key: ECDSA-P256, validity: 2160h, renewBefore: 720h, restart: together}',
    'clusters:',
  ];
  for (let c = 0; c < options.clusters; c++) lines.push(`  - {name: c-${c}}`);
  lines.push('authorities:');
  for (let a = 0; a < authorities; a++) lines.push(`  - {name: ca-${a}, commonName: ca-${a}, key: ECDSA-P256, validity: 87600h}`);
  lines.push('certificates:');
  for (let i = 0; i < options.certificates; i++) {
    const ns = `ns-${i % namespaces}`;
    const cluster = `c-${i % options.clusters}`;
    lines.push(
      `  - {name: svc-${i}, issuer: ca-${i % authorities}, usage: server, commonName: svc-${i}, dnsNames: [svc-${i}.${ns}.svc], secret: {name: svc-${i}-tls, namespace: ${ns}, clusters: [${cluster}]}, consumers: [Deployment/svc-${i}]}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** A logger that counts warnings and errors by message (the simulation reports them; nothing is printed). */
function countingLogger(counts: Map<string, number>): Logger {
  const count = (level: string, message: string) => counts.set(`${level}: ${message}`, (counts.get(`${level}: ${message}`) ?? 0) + 1);
  return { debug() {}, info() {}, warn: (m) => count('warn', m), error: (m) => count('error', m) };
}

const OLD_VERSION = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** Stores what exists before the run, outside every quota: the CAs, one current version per leaf, the cluster Secrets and Deployments. */
function seed(inventory: Inventory, sm: EmulatedSecretsManager, clusters: ReadonlyMap<string, SimCluster>, now: Date): void {
  let template: string | undefined;
  let n = 0;
  for (const item of inventory.items.values()) {
    for (const unit of unitsOf(inventory, item)) {
      const tags = { 'rekey:inventory': inventory.name, 'rekey:item': unit.key, 'rekey:managed-by': 'rekey' };
      if (item.kind === 'authority') {
        sm.seed(unit.storeName, OLD_VERSION(n++), encodeMaterial(issueMaterial(unit, undefined, now, specHashOf(unit))), tags);
        continue;
      }
      if (item.kind !== 'certificate') continue;
      // The version before the rotation is never read by a leaf rotation (only its id): one real certificate
      // stands for all of them, so setting up 100,000 costs nothing.
      if (!template) {
        const caUnit = unitsOf(inventory, inventory.items.get(item.issuer)!)[0]!;
        const ca = JSON.parse(sm.peek(caUnit.storeName) ?? '{}') as Parameters<typeof issuerMaterialOf>[1];
        template = encodeMaterial(issueMaterial(unit, issuerMaterialOf(item.issuer, ca, true), now, specHashOf(unit)));
      }
      const version = OLD_VERSION(n++);
      sm.seed(unit.storeName, version, template, tags);
      const placement = item.secret!;
      for (const c of placement.clusters) {
        const cluster = clusters.get(c)!;
        cluster.seedSecret({
          name: unit.secretName!,
          namespace: placement.namespace,
          type: 'kubernetes.io/tls',
          data: {},
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
          annotations: { [Annotation.Version]: version },
        });
        for (const consumer of item.consumers) if (consumer.kind === 'workload') cluster.addDeployment(placement.namespace, consumer.name);
      }
    }
  }
}

function context(time: VirtualTime, timeoutMs: number, id: string): LambdaContext {
  const end = time.ms + timeoutMs;
  return { awsRequestId: id, getRemainingTimeInMillis: () => end - time.ms };
}

function recordOf(m: FifoMessage<string>): SqsRecord {
  return {
    messageId: m.messageId,
    receiptHandle: m.receipt ?? '',
    body: m.body,
    attributes: { ApproximateReceiveCount: String(m.receiveCount), MessageGroupId: m.group },
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:sim-1:000000000000:steps.fifo',
  };
}

const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Runs one region's rotation of every certificate and reports what it took. */
export async function simulateRegion(options: SimOptions): Promise<SimResult> {
  const realStart = process.hrtime.bigint();
  const inventory = loadInventory(simInventory(options), 'sim.yaml');
  const time = new VirtualTime();
  const restoreTimers = time.install();
  try {
    const sm = new EmulatedSecretsManager(time, options.secretsManager);
    const sqs = new EmulatedSqs(time);
    const eb = new EmulatedEventBridge(time, options.eventBridge);
    const journal = new MemoryJournal(time);
    const lambda = new LambdaRegion(time, options.lambda);
    const clusters = new Map<string, SimCluster>();
    for (const c of inventory.clusters) clusters.set(c.name, new SimCluster(c.name, time, options.cluster));
    seed(inventory, sm, clusters, time.now());

    const store = new SecretsManagerStore({ client: sm as unknown as NonNullable<SecretsManagerStoreOptions['client']> });
    const queue = new SqsStepQueue({
      queueUrl: QueueUrls.steps,
      delayQueueUrl: QueueUrls.delay,
      deadLetterQueueUrl: QueueUrls.deadLetters,
      client: sqs as unknown as NonNullable<SqsStepQueueOptions['client']>,
      now: () => time.now(),
    });
    const events = new EventBridgeBus({ client: eb as unknown as NonNullable<EventBridgeBusOptions['client']> });
    const warnings = new Map<string, number>();
    const log = countingLogger(warnings);
    const clusterMap: ReadonlyMap<string, SimCluster> = clusters;
    const rt = coldStart({
      env: {},
      inventory,
      aws: { store, journal, events, queue },
      log,
      clock: time,
      clusters: () => Promise.resolve(clusterMap),
    });
    const step = stepHandler(() => rt);
    const restart = restartHandler(() => rt);
    const restartCheck = restartCheckHandler(() => rt);
    const delay = delayHandler(() => ({ queue, log, deadLetterQueueUrl: QueueUrls.deadLetters, restartChecks: restartCheck }));

    let ids = 0;
    lambda.connect(sqs.steps, 'step', async (batch) => {
      const out = await step({ Records: batch.map(recordOf) }, context(time, 60_000, `step-${ids++}`));
      const failed = new Set(out.batchItemFailures.map((f) => f.itemIdentifier));
      // The event source deletes what succeeded; failures stay in flight until their visibility ends.
      for (const m of batch) if (!failed.has(m.messageId) && m.receipt) sqs.steps.delete(m.receipt);
    });
    for (const type of [EventType.SecretSynced, EventType.RestartRequested]) {
      eb.rules.set(type, (event) => lambda.invokeAsync('restart', () => restart(event, context(time, 900_000, `restart-${ids++}`))));
    }
    // The delay queue (serverless.yml): a record the function reports failed comes back after its visibility timeout
    // (120 s), up to 5 receives, then goes to the events DLQ (counted with the dead letters).
    let delayDeadLetters = 0;
    const deliverDelayed = (body: string, receives: number): void =>
      lambda.invokeAsync('delay', async () => {
        const id = ids++;
        const out = await delay(
          {
            Records: [
              { messageId: `d-${id}`, receiptHandle: `delay-${id}`, body, attributes: { ApproximateReceiveCount: String(receives) } },
            ],
          },
          context(time, 60_000, `delay-${id}`),
        );
        if (out.batchItemFailures.length === 0) return;
        if (receives >= 5) delayDeadLetters++;
        else time.schedule(120_000, () => deliverDelayed(body, receives + 1));
      });
    sqs.onDelayed = (body) => deliverDelayed(body, 1);

    const started = time.ms;
    const completions: number[] = [];
    let failed = 0;
    eb.onEntry = (type) => {
      if (type === EventType.RotationCompleted) completions.push(time.ms - started);
      else if (type === EventType.RotationFailed) failed++;
    };
    const total = inventory.items.size - (options.authorities ?? 10);
    const names = [...inventory.items.values()].filter((i) => i.kind === 'certificate').map((i) => i.name);

    // The scheduled scan: startRotation for every due item (the step function drives them from the queue).
    let startedAll = 0;
    const deps = depsFor(rt, clusterMap);
    // A start that fails (throttled) is left for the next scan, a minute later here.
    let startFailures = 0;
    const start = async (name: string): Promise<void> => {
      try {
        await startRotation(deps, inventory, name, { trigger: Trigger.Schedule, reason: 'due for renewal (simulated)' });
      } catch (e) {
        startFailures++;
        // Recorded but its first step not queued (the publish before it failed): the scan's recovery would queue
        // it once its lease expires; here it stays running and the report says so.
        if (e instanceof RotationLockedError) return;
        await time.sleep(60_000);
        return start(name);
      }
    };
    void mapLimit(names, options.startConcurrency ?? 16, start).then(() => {
      startedAll = time.ms - started;
    });

    const progress = () => {
      options.progress?.(
        `t=${((time.ms - started) / 60_000).toFixed(1)} min: ${completions.length}/${total} done, ${failed} failed, SM writes ${sm.writes} (throttled ${sm.throttles}), lambda busy ${lambda.busy} (${[...lambda.stats].map(([k, s]) => `${k} ${s.active}`).join(', ')}), queue ${sqs.steps.depth}, real ${(Number(process.hrtime.bigint() - realStart) / 1e9).toFixed(0)} s`,
      );
      if (completions.length + failed < total) time.schedule(60_000, progress);
    };
    time.schedule(60_000, progress);
    await time.run({ done: () => completions.length + failed >= total, limitMs: (options.limitMinutes ?? 240) * 60_000 });

    let running = 0;
    for (const r of journal.all()) if (r.status === RotationStatus.Running) running++;
    const end = completions.length + failed >= total ? Math.max(completions.at(-1) ?? 0, 0) : time.ms - started;
    const rollouts = [...clusters.values()].flatMap((c) => c.rollouts.map((r) => (r.doneAt - r.restartedAt) / 1000));
    const requests = [...clusters.values()].reduce((s, c) => s + c.requests, 0);
    const waited = [...clusters.values()].reduce((s, c) => s + c.throttledMs, 0);
    const peak = Math.max(0, ...sm.writesPerSecond.values());
    if (running && options.progress) options.progress(`${running} rotation(s) still running at the end`);
    return {
      certificates: total,
      clusters: options.clusters,
      completed: completions.length,
      failed,
      minutes: end / 60_000,
      startMinutes: (startedAll || time.ms - started) / 60_000,
      completions: completions.sort((a, b) => a - b),
      secretsManager: {
        pendingOnCurrent: sm.pendingOnCurrent(),
        writes: sm.writes,
        writesPerRotation: completions.length ? sm.writes / completions.length : 0,
        throttles: sm.throttles,
        calls: Object.fromEntries(sm.calls),
        peakWritesPerSecond: peak,
      },
      eventBridge: { calls: eb.calls.get('PutEventsCommand') ?? 0, throttles: eb.throttles, entries: Object.fromEntries(eb.entriesByType) },
      sqs: { calls: Object.fromEntries(sqs.calls), deadLetters: sqs.deadLetters.length + delayDeadLetters },
      journal: Object.fromEntries(journal.calls),
      lambda: {
        peakConcurrency: lambda.peak,
        asyncQueuedPeak: lambda.asyncQueuedPeak,
        functions: Object.fromEntries(
          [...lambda.stats].map(([k, s]) => [k, { invocations: s.invocations, coldStarts: s.coldStarts, peak: s.peak }]),
        ),
      },
      clusterRequests: requests,
      clusterWaitMs: requests ? waited / requests : 0,
      rolloutMedianSeconds: median(rollouts),
      warnings: { ...Object.fromEntries(warnings), ...(startFailures && { 'rotation starts failed and retried': startFailures }) },
      realSeconds: Number(process.hrtime.bigint() - realStart) / 1e9,
    };
  } finally {
    restoreTimers();
  }
}
