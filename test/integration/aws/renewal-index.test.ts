import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countAwsCalls } from '../../../shared/adapters/aws/call-counter.js';
import { createAwsAdapters, type AwsAdapters } from '../../../shared/adapters/aws/index.js';
import { ManifestWriter } from '../../../shared/adapters/local/manifest-writer.js';
import { apply } from '../../../shared/app/apply.js';
import type { Deps } from '../../../shared/app/deps.js';
import { executeStep } from '../../../shared/app/rotation/index.js';
import { scan, ScanMode } from '../../../shared/app/scan.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { RotationStatus } from '../../../shared/domain/rotation/record.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import type { StepMessage } from '../../../shared/ports/step-queue.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { freshResources, useMoto } from './moto.js';
import { issuerRegistry } from '../../../shared/adapters/issuers/registry.js';

/**
 * The renewal index on moto: rows written by apply and by a leaf rotation's journal write, the scan reading only what
 * they say is due, and the full reconcile repairing a row that went missing.
 */

const HOUR = 3600_000;
let dir: string;
let aws: AwsAdapters;
let inventory: Inventory;
let deps: Deps;
let now = Date.now();
const messages: StepMessage[] = [];
const counts = new Map<string, number>();

beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-renewals-');
  const r = await freshResources('renewals');
  inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${r.prefix}}
defaults: {key: ECDSA-P256}
clusters: [{name: dc1}]
authorities: [{name: ca, commonName: renewals ca, validity: 87600h}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, validity: 48h, renewBefore: 24h, secret: {name: web-tls, namespace: shop}}
  - {name: api, issuer: ca, usage: server, commonName: api, validity: 96h, renewBefore: 24h, secret: {name: api-tls, namespace: shop}}
`);
  aws = createAwsAdapters({ stepQueueUrl: r.stepQueueUrl, journalTable: r.journalTable });
  countAwsCalls(aws, counts);
  const clusters = new Map<string, Cluster>([['dc1', { name: 'dc1', secrets: new ManifestWriter(join(dir, 'dc1')) }]]);
  deps = {
    store: aws.store,
    issuers: issuerRegistry({ store: aws.store, inventory: inventory.name }),
    journal: aws.journal,
    renewals: aws.journal,
    queue: {
      enqueue: (m) => {
        messages.push(m);
        return Promise.resolve();
      },
    },
    events: { publish: () => Promise.resolve() },
    clock: { now: () => new Date(now) },
    log: silentLogger,
    clusters,
  };
});
afterAll(() => removeTempDir(dir));

const total = () => [...counts.values()].reduce((a, b) => a + b, 0);
const rowOf = async (item: string) =>
  (await aws.journal.allRenewals(inventory.name)).find((e) => e.unit === `rekey/${inventory.name}/${item}`);

async function drain(): Promise<void> {
  for (let guard = 0; messages.length && guard < 50; guard++) await executeStep(deps, inventory, messages.shift()!);
}

describe('renewal index on moto', () => {
  it('apply writes a row per unit; a first scan reconciles and marks; a scan with nothing due reads no secret', async () => {
    // Act
    await apply(deps, inventory);
    const first = await scan(deps, inventory);
    counts.clear();
    const second = await scan(deps, inventory);

    // Assess
    expect(first.mode).toBe(ScanMode.Full);
    expect(first.reindexed).toBe(0);
    expect((await aws.journal.allRenewals(inventory.name)).map((e) => e.unit).sort()).toEqual(
      ['api', 'ca', 'web'].map((i) => `rekey/${inventory.name}/${i}`),
    );
    expect(second.mode).toBe(ScanMode.Due);
    expect(second.started).toEqual([]);
    expect(total()).toBeLessThanOrEqual(5);
    expect(counts.get('SecretsManager GetSecretValue') ?? 0).toBe(0);
  });

  it('finds the unit that is due and only it; its rotation moves the row to the new version', async () => {
    // Prepare: web's renewal instant (48h - 24h) has passed, api's (96h - 24h) has not.
    const before = (await rowOf('web'))!;
    now += 30 * HOUR;

    // Act (a reconcile a week old still counts here, so this scan reads only what is due)
    const result = await scan(deps, inventory, { reconcileEveryMs: 7 * 24 * HOUR });
    await drain();

    // Assess
    expect(result.mode).toBe(ScanMode.Due);
    expect(result.started.map((s) => s.item)).toEqual(['web']);
    const record = (await aws.journal.get(result.started[0]!.rotationId))!;
    expect(record.status).toBe(RotationStatus.Completed);
    const after = (await rowOf('web'))!;
    expect(after.versionId).toBe(record.id);
    expect(Date.parse(after.renewAt)).toBeGreaterThan(Date.parse(before.renewAt) + 24 * HOUR);
    expect((await aws.journal.dueRenewals(inventory.name, new Date(now))).map((e) => e.unit)).toEqual([]);
  });

  it('a missing row goes unseen by the scan of what is due, and is repaired by the full reconcile', async () => {
    // Prepare
    const api = (await rowOf('api'))!;
    await aws.journal.removeRenewals(inventory.name, [api.unit]);

    // Act
    const due = await scan(deps, inventory, { reconcileEveryMs: 7 * 24 * HOUR });
    const full = await scan(deps, inventory, { full: true });

    // Assess
    expect(due.mode).toBe(ScanMode.Due);
    expect(full.mode).toBe(ScanMode.Full);
    expect(full.reindexed).toBe(1);
    expect(await rowOf('api')).toEqual(api);
  });

  it('a reconcile older than a day makes the next scan full by itself; a row marked for re-reading gets its real instant', async () => {
    // Prepare
    const api = (await rowOf('api'))!;
    await aws.journal.putRenewals(inventory.name, [{ unit: api.unit, renewAt: new Date(now).toISOString(), versionId: '' }]);

    // Act
    const due = await scan(deps, inventory);
    now += 25 * HOUR;
    const later = await scan(deps, inventory);

    // Assess
    expect(due.mode).toBe(ScanMode.Due);
    expect(due.started).toEqual([]);
    expect(due.reindexed).toBe(1);
    expect(await rowOf('api')).toEqual(api);
    expect(later.mode).toBe(ScanMode.Full);
  });
});
