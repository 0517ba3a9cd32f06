/**
 * AWS API calls per leaf rotation: one forced rotation of a leaf with one Secret in one cluster and one consumer,
 * run by the functions on moto (LocalRunner plays the event sources; its own ReceiveMessage/DeleteMessage calls are
 * Lambda's, not rekey's, and are not counted). Also counts a scheduled scan with nothing due. Writes
 * bench-results/aws-calls.json.
 *
 *   AWS_ENDPOINT_URL=http://127.0.0.1:5055 npx tsx test/bench/aws-calls.ts
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { delayHandler } from '../../functions/delay.js';
import { LocalRunner } from '../../functions/local/runner.js';
import { coldStart, depsFor } from '../../functions/lib/runtime.js';
import { restartCheckHandler, restartHandler } from '../../functions/restart.js';
import { scheduleHandler } from '../../functions/schedule.js';
import { stepHandler } from '../../functions/step.js';
import { countAwsCalls } from '../../shared/adapters/aws/call-counter.js';
import { createAwsAdapters, DynamoDbJournal } from '../../shared/adapters/aws/index.js';
import { provisionAwsResources } from '../../shared/adapters/aws/provision.js';
import { SqsPoller } from '../../shared/adapters/aws/sqs-poller.js';
import { ManifestWriter } from '../../shared/adapters/local/manifest-writer.js';
import { startRotation } from '../../shared/app/rotation/start.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../shared/domain/rotation/record.js';
import type { Cluster } from '../../shared/ports/cluster.js';
import { silentLogger } from '../../shared/ports/logger.js';
import { FakeWorkloads } from '../unit/app/restart/fakes.js';

if (!process.env.AWS_ENDPOINT_URL) throw new Error('set AWS_ENDPOINT_URL to moto');
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

const prefix = `bench-${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'rekey-calls-'));
const r = await provisionAwsResources({ prefix, stepVisibilitySeconds: 5 });
const inventory = loadInventory(
  `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${prefix}}
defaults: {key: ECDSA-P256}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: root-ca, commonName: bench root, validity: 87600h}]
certificates:
  - {name: web, issuer: root-ca, usage: server, commonName: web, secret: {name: web-tls, namespace: shop}, consumers: [Deployment/web], restart: {policy: together, within: 5m}}
`,
  'bench.yaml',
);
const aws = createAwsAdapters({
  stepQueueUrl: r.stepQueueUrl,
  delayQueueUrl: r.delayQueueUrl,
  deadLetterQueueUrl: r.deadLetterQueueUrl,
  eventBusName: r.eventBusName,
  journalTable: r.journalTable,
});
const counts = new Map<string, number>();
countAwsCalls(aws, counts);
const workloads = new FakeWorkloads('dc1', []);
workloads.existing.add('Deployment/shop/web');
const clusters = new Map<string, Cluster>([['dc1', { name: 'dc1', secrets: new ManifestWriter(join(dir, 'dc1')), workloads }]]);
const rt = coldStart({
  inventory,
  aws,
  log: silentLogger,
  env: { REKEY_EVENTS_DLQ_URL: r.eventsDeadLetterQueueUrl },
  clusters: async () => clusters,
});
const runner = new LocalRunner({
  poller: new SqsPoller(),
  stepQueueUrl: r.stepQueueUrl,
  delayQueueUrl: r.delayQueueUrl,
  restartEventsQueueUrl: r.restartEventsQueueUrl,
  step: stepHandler(() => rt),
  delay: delayHandler(() => ({ queue: aws.queue, log: silentLogger, restartChecks: restartCheckHandler(() => rt) })),
  restart: restartHandler(() => rt),
  log: silentLogger,
}).start();

// The bench's own polling reads through a journal of its own, so it is not counted.
const watcher = new DynamoDbJournal({ tableName: r.journalTable });
async function finished(id: string): Promise<void> {
  for (;;) {
    const rec = await watcher.get(id);
    if (rec && rec.status !== RotationStatus.Running) return;
    await new Promise((res) => setTimeout(res, 200));
  }
}
const snapshot = () => new Map(counts);
const diff = (before: Map<string, number>) =>
  Object.fromEntries(
    [...counts]
      .map(([k, v]) => [k, v - (before.get(k) ?? 0)])
      .filter(([, v]) => (v as number) > 0)
      .sort(([a], [b]) => String(a).localeCompare(String(b))),
  );

// The first issuance (root + leaf) sets the item up; not counted.
const first = await scheduleHandler(() => rt)({});
await finished(first.rotations[0]!);

// One leaf rotation, forced: everything from startRotation to the journal saying completed.
const before = snapshot();
const t0 = Date.now();
const record = await startRotation(depsFor(rt, clusters), inventory, 'web', { trigger: Trigger.Manual, reason: 'bench' });
await finished(record.id);
const rotationMs = Date.now() - t0;
const rotation = diff(before);
const invocations = { ...runner.invocations };

// A scheduled scan with nothing due.
const beforeScan = snapshot();
await scheduleHandler(() => rt)({});
const scan = diff(beforeScan);

await runner.stop();
const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
console.log(`AWS API calls for one leaf rotation (1 unit, 1 cluster, 1 consumer): ${total(rotation)} in ${rotationMs} ms`);
for (const [k, v] of Object.entries(rotation)) console.log(`  ${k.padEnd(44)} ${String(v)}`);
console.log(`AWS API calls for a scan with nothing due: ${total(scan)}`);
for (const [k, v] of Object.entries(scan)) console.log(`  ${k.padEnd(44)} ${String(v)}`);
mkdirSync(resolve(import.meta.dirname, '../../bench-results'), { recursive: true });
writeFileSync(
  resolve(import.meta.dirname, '../../bench-results/aws-calls.json'),
  JSON.stringify({ rotation, rotationTotal: total(rotation), rotationMs, scan, scanTotal: total(scan), invocations }, null, 2),
);
rmSync(dir, { recursive: true, force: true });
