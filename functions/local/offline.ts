/**
 * `npm run offline`: the four functions on one machine against a local AWS (moto), so a rotation can be watched
 * flowing through real queues, a real event bus rule and real tables:
 *
 *   AWS_ENDPOINT_URL=http://127.0.0.1:5000 npm run offline -- -f examples/apiconnect.yaml [--rotate NAME] [--every 60]
 *
 * It creates the resources serverless.yml declares (same names, prefix `rekey-offline`), runs the schedule now and
 * every `--every` seconds, and plays Lambda's event sources with LocalRunner. Secrets go to the clusters of
 * KUBECONFIG when it is set, else to manifests under `--out` (default .rekey/offline). Logs are the functions' own
 * JSON lines. Ctrl-C stops.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createAwsAdapters } from '../../shared/adapters/aws/index.js';
import { provisionAwsResources } from '../../shared/adapters/aws/provision.js';
import { SqsPoller } from '../../shared/adapters/aws/sqs-poller.js';
import { ManifestWriter } from '../../shared/adapters/local/manifest-writer.js';
import { startRotation } from '../../shared/app/rotation/start.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { Trigger } from '../../shared/domain/rotation/record.js';
import type { Cluster } from '../../shared/ports/cluster.js';
import { delayHandler } from '../delay.js';
import { jsonLogger } from '../lib/logger.js';
import { coldStart, depsFor } from '../lib/runtime.js';
import { restartCheckHandler, restartHandler } from '../restart.js';
import { scheduleHandler } from '../schedule.js';
import { stepHandler } from '../step.js';
import { LocalRunner } from './runner.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      file: { type: 'string', short: 'f', default: process.env.REKEY_INVENTORY_FILE ?? 'examples/apiconnect.yaml' },
      rotate: { type: 'string', multiple: true },
      every: { type: 'string', default: '60' },
      out: { type: 'string', default: '.rekey/offline' },
      prefix: { type: 'string', default: 'rekey-offline' },
    },
  });
  if (!process.env.AWS_ENDPOINT_URL)
    throw new Error('set AWS_ENDPOINT_URL to a local AWS (moto: bash test/infra/up.sh moto), so nothing reaches a real account');
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const log = jsonLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  const inventory = loadInventory(readFileSync(values.file, 'utf8'), values.file);

  const r = await provisionAwsResources({ prefix: values.prefix, stepVisibilitySeconds: 30 });
  log.info('resources ready', { ...r });
  const aws = createAwsAdapters({
    stepQueueUrl: r.stepQueueUrl,
    delayQueueUrl: r.delayQueueUrl,
    deadLetterQueueUrl: r.deadLetterQueueUrl,
    eventBusName: r.eventBusName,
    journalTable: r.journalTable,
  });

  let clusters: (() => Promise<ReadonlyMap<string, Cluster>>) | undefined;
  if (!process.env.KUBECONFIG) {
    const out = resolve(values.out);
    const manifests = new Map<string, Cluster>(
      inventory.clusters.map((c) => [c.name, { name: c.name, secrets: new ManifestWriter(join(out, c.name)) }]),
    );
    clusters = () => Promise.resolve(manifests);
    log.info('no KUBECONFIG: Secrets are written as manifests, restarts are only requested', { out });
  }
  const rt = coldStart({
    inventory,
    aws,
    log,
    env: { ...process.env, REKEY_EVENTS_DLQ_URL: r.eventsDeadLetterQueueUrl },
    ...(clusters && { clusters }),
  });

  const runner = new LocalRunner({
    poller: new SqsPoller(),
    stepQueueUrl: r.stepQueueUrl,
    delayQueueUrl: r.delayQueueUrl,
    restartEventsQueueUrl: r.restartEventsQueueUrl,
    step: stepHandler(() => rt),
    delay: delayHandler(() => ({
      queue: aws.queue,
      log,
      deadLetterQueueUrl: r.eventsDeadLetterQueueUrl,
      restartChecks: restartCheckHandler(() => rt),
    })),
    restart: restartHandler(() => rt),
    log,
  }).start();

  const schedule = scheduleHandler(() => rt);
  const scan = () =>
    schedule({ source: 'aws.events', 'detail-type': 'Scheduled Event' }).catch((e: unknown) =>
      log.error('scan failed', { error: (e as Error).message }),
    );
  await scan();
  for (const name of values.rotate ?? []) {
    const record = await startRotation(depsFor(rt, await rt.clusters()), inventory, name, {
      trigger: Trigger.Manual,
      reason: 'npm run offline --rotate',
    });
    log.info('rotation started', { item: name, rotationId: record.id });
  }
  const every = Number(values.every) * 1000;
  const timer = every > 0 ? setInterval(() => void scan(), every) : undefined;

  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  if (timer) clearInterval(timer);
  await runner.stop();
  log.info('stopped', { invocations: runner.invocations });
}

main().catch((e: unknown) => {
  process.stderr.write(`offline: ${(e as Error).message}\n`);
  process.exit(1);
});
