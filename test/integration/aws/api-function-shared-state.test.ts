import { randomBytes } from 'node:crypto';
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiHandler, type ApiRuntime, type HttpApiEvent } from '../../../functions/api.js';
import { coldStart, depsFor, type LambdaRuntime } from '../../../functions/lib/runtime.js';
import { ManifestWriter } from '../../../shared/adapters/local/manifest-writer.js';
import { leveledJsonLogger } from '../../../shared/app/api/json-logger.js';
import { itemListSchema } from '../../../shared/app/api/schemas.js';
import { ensureApiSigningKey, mintApiToken } from '../../../shared/app/api/signing-key.js';
import { apply } from '../../../shared/app/apply.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { inventoryHead, shopLeavesYaml } from '../../fixtures/aws-inventories.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import type { SigningKeyMaterial } from '../../../shared/domain/store/material.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { freshResources, useMoto } from './moto.js';

/**
 * The API function's state shared between warm containers, on moto: the per-client rate limit is one DynamoDB
 * window counter that two handler instances (two "containers", each with its own runtime) count together, and
 * GET /v1/items answers from a read model that sees this container's writes at once and other containers'
 * writes (a new current version, a deleted secret) within its age bound.
 */

const region = 'us-east-1';
const WINDOW_SECONDS = 3600;
const LIMIT = 4;
const ITEMS_BOUND_SECONDS = 2;

let dir: string;
let inventory: Inventory;
let resources: Awaited<ReturnType<typeof freshResources>>;
let key: SigningKeyMaterial;
let sqs: SQSClient;
const clusters = new Map<string, Cluster>();

const inventoryYaml = (name: string) => `${inventoryHead(name)}authorities:
  - {name: root-ca, commonName: shared root, validity: 87600h}
certificates:
${shopLeavesYaml('web', 'api', 'www')}`;

/** One warm container: its own runtime (adapters, clients) over the shared stack. */
function container(env: Record<string, string>, options: Parameters<typeof apiHandler>[1] = {}) {
  const logger = leveledJsonLogger({ level: 'error', write: () => undefined });
  const rt: LambdaRuntime = coldStart({
    env: {
      REKEY_STEP_QUEUE_URL: resources.stepQueueUrl,
      REKEY_JOURNAL_TABLE: resources.journalTable,
      REKEY_EVENT_BUS: resources.eventBusName,
      AWS_REGION: region,
      ...env,
    },
    inventory,
    log: logger,
    clusters: async () => clusters,
  });
  const runtime: ApiRuntime = { rt, logger };
  return { rt, handle: apiHandler(() => runtime, { write: () => undefined, ...options }) };
}

const event = (method: string, path: string, token: string, body?: unknown, sourceIp = '203.0.113.20'): HttpApiEvent => ({
  version: '2.0',
  rawPath: path,
  rawQueryString: '',
  headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
  ...(body !== undefined && { body: JSON.stringify(body) }),
  requestContext: { http: { method, sourceIp }, requestId: randomBytes(4).toString('hex') },
});
const context = { awsRequestId: 'r', getRemainingTimeInMillis: () => 20_000 };

const stepMessages = async () =>
  Number(
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: resources.stepQueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] })))
      .Attributes?.ApproximateNumberOfMessages,
  );

const token = (subject: string, scopes: string[]) => mintApiToken(key, { inventory: inventory.name, scopes, ttlSeconds: 600, subject });

beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-api-shared-');
  resources = await freshResources('apishared');
  inventory = loadInventory(inventoryYaml(`shared-${randomBytes(3).toString('hex')}`), 'shared.yaml');
  clusters.set('dc1', { name: 'dc1', secrets: new ManifestWriter(`${dir}/out/dc1`) });
  const setup = container({});
  await apply(depsFor(setup.rt, clusters), inventory);
  key = (await ensureApiSigningKey(setup.rt.aws.store, inventory.name)).material;
  sqs = new SQSClient({ region });
}, 120_000);
afterAll(() => removeTempDir(dir));

describe('api function: per-client rate limit across containers (DynamoDB window counter)', () => {
  it('two containers share one limit: the excess is 429 with Retry-After and starts nothing; another client is unaffected', async () => {
    // Prepare: a fresh hour-long window, so the count cannot be split by a window boundary during the test
    const untilBoundary = WINDOW_SECONDS - ((Date.now() / 1000) % WINDOW_SECONDS);
    if (untilBoundary < 60) await new Promise((r) => setTimeout(r, (untilBoundary + 1) * 1000));
    const env = { REKEY_API_RATE_LIMIT: String(LIMIT), REKEY_API_RATE_WINDOW_SECONDS: String(WINDOW_SECONDS) };
    const a = container(env);
    const b = container(env);
    const busy = await token('busy-client', ['items:read', 'rotations:write']);
    const other = await token('other-client', ['items:read']);
    const queuedBefore = await stepMessages();

    // Act: LIMIT requests alternating between the containers, then one more on each
    const allowed = [
      await a.handle(event('GET', '/v1/items', busy), context),
      await b.handle(event('GET', '/v1/items/web', busy), context),
      await a.handle(event('POST', '/v1/rotations', busy, { item: 'web', reason: 'limit test' }), context),
      await b.handle(event('GET', '/v1/items', busy), context),
    ];
    const excessOnB = await b.handle(event('POST', '/v1/rotations', busy, { item: 'api', reason: 'over the limit' }), context);
    const excessOnA = await a.handle(event('GET', '/v1/items', busy), context);
    const otherClient = await a.handle(event('GET', '/v1/items', other), context);

    // Assess
    expect(allowed.map((r) => r.statusCode)).toEqual([200, 200, 202, 200]);
    for (const refused of [excessOnB, excessOnA]) {
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['content-type']).toBe('application/problem+json');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    }
    expect(otherClient.statusCode).toBe(200);
    // No side effect of the refused POST: no rotation of "api" recorded, only the one allowed rotation queued.
    expect(await a.rt.aws.journal.listByItem(inventory.name, 'api')).toEqual([]);
    expect(await a.rt.aws.journal.listByItem(inventory.name, 'web')).toHaveLength(1);
    expect(await stepMessages()).toBe(queuedBefore + 1);
  });
});

describe('api function: GET /v1/items read model on AWS', () => {
  it("shows this container's rotation at once, and another container's new version and a deleted secret within the bound", async () => {
    // Prepare
    const a = container({}, { itemsMaxAgeSeconds: ITEMS_BOUND_SECONDS });
    const b = container({});
    const reader = await token('reader', ['items:read', 'rotations:write']);
    const list = async () => {
      const res = await a.handle(event('GET', '/v1/items', reader, undefined, '203.0.113.30'), context);
      expect(res.statusCode).toBe(200);
      return itemListSchema.parse(JSON.parse(res.body)).items;
    };
    const row = (items: Awaited<ReturnType<typeof list>>, name: string) => items.find((i) => i.name === name);
    const before = await list();
    const storeName = (item: string) => `rekey/${inventory.name}/${item}`;

    // Act 1: a rotation started through this container (journal write counted here)
    const started = await a.handle(event('POST', '/v1/rotations', reader, { item: 'www', reason: 'read model' }, '203.0.113.30'), context);
    const afterLocal = await list();

    // Act 2: another container writes a new current version of "api", and the secret of "www" is deleted
    const current = await b.rt.aws.store.getVersion(storeName('api'));
    const newVersion = '00000000-0000-4000-8000-0000000a0001';
    await b.rt.aws.store.putCurrent(storeName('api'), newVersion, current!.value);
    await new SecretsManagerClient({ region }).send(
      new DeleteSecretCommand({ SecretId: storeName('www'), ForceDeleteWithoutRecovery: true }),
    );
    await new Promise((r) => setTimeout(r, ITEMS_BOUND_SECONDS * 1000 + 100));
    const afterBound = await list();

    // Assess
    expect(started.statusCode).toBe(202);
    expect(row(before, 'www')?.rotation).toBeUndefined();
    expect(row(afterLocal, 'www')?.rotation?.status).toBe('running');
    expect(row(afterBound, 'api')?.version).toBe(newVersion);
    expect(row(before, 'www')?.version).toBeDefined();
    expect(row(afterBound, 'www')?.version).toBeUndefined();
    expect(row(afterBound, 'www')?.notAfter).toBeUndefined();
  });
});
