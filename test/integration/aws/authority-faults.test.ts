import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createAwsAdapters } from '../../../shared/adapters/aws/index.js';
import { InProcessQueue } from '../../../shared/adapters/local/in-process-queue.js';
import { ManifestWriter } from '../../../shared/adapters/local/manifest-writer.js';
import { apply } from '../../../shared/app/apply.js';
import type { Deps } from '../../../shared/app/deps.js';
import { defined } from '../../../shared/domain/defined.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import { authorityCrashInventory, authorityCrashPoints, expectAuthorityCrashRecovers } from '../../fixtures/authority-crash-scenario.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { freshResources, useMoto } from './moto.js';
import { issuerRegistry } from '../../../shared/adapters/issuers/registry.js';

/**
 * The authority machine killed once after each side effect, on the AWS adapters: versions and stages in Secrets
 * Manager, the rotation record in DynamoDB, events on EventBridge (all moto). The same crash points and checks as
 * the embedded runtime's test/unit/app/rotation/authority-faults.test.ts. Steps run in this process, each message
 * delivered again after the crash and once more besides, deduplicated as the FIFO step queue does; cluster Secrets go
 * to manifests for dc1 and dc2.
 */

let dir: string;
let resources: Awaited<ReturnType<typeof freshResources>>;
beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-ca-faults-aws-');
  resources = await freshResources('ca-faults');
});
afterAll(() => removeTempDir(dir));

/** Each case its own inventory (so its own secrets under rekey/<name>/), sharing the file's table, queues and bus. */
const cases = authorityCrashPoints('x').map((_, i) => {
  const inventoryName = `cafault-${randomBytes(4).toString('hex')}`;
  return { ...defined(authorityCrashPoints(inventoryName)[i]), inventoryName };
});

async function awsRuntime(inventoryName: string): Promise<{ deps: Deps; inventory: ReturnType<typeof loadInventory> }> {
  const inventory = loadInventory(authorityCrashInventory(inventoryName), `${inventoryName}.yaml`);
  const aws = createAwsAdapters({
    stepQueueUrl: resources.stepQueueUrl,
    delayQueueUrl: resources.delayQueueUrl,
    deadLetterQueueUrl: resources.deadLetterQueueUrl,
    eventBusName: resources.eventBusName,
    journalTable: resources.journalTable,
    region: 'us-east-1',
  });
  let fakeNow = Date.now();
  const queue = new InProcessQueue(
    () => fakeNow,
    (ms) => {
      fakeNow += ms;
      return Promise.resolve();
    },
  );
  const clusters = new Map<string, Cluster>(
    ['dc1', 'dc2'].map((c) => [c, { name: c, secrets: new ManifestWriter(`${dir}/${inventoryName}/${c}`) }]),
  );
  const deps: Deps = {
    store: aws.store,
    issuers: issuerRegistry({ store: aws.store, inventory: inventoryName }),
    journal: aws.journal,
    queue,
    events: aws.events,
    clock: { now: () => new Date() },
    log: silentLogger,
    clusters,
  };
  await apply(deps, inventory);
  return { deps, inventory };
}

describe('authority rotation under worker crashes and duplicate deliveries (Secrets Manager, DynamoDB on moto)', () => {
  it.each(cases)(
    'completes exactly once, trust held throughout, when the worker dies $name',
    async ({ inventoryName, dies, completionLost }) => {
      const { deps, inventory } = await awsRuntime(inventoryName);
      await expectAuthorityCrashRecovers(deps, inventory, dies, { completionLost, fifoDeduplication: true });
    },
    120_000,
  );
});
