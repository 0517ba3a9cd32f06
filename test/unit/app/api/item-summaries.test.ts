import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../../cli/compose.js';
import { createApi, type Api } from '../../../../shared/app/api/index.js';
import type { ApiRequest } from '../../../../shared/app/api/http.js';
import { ItemSummaries } from '../../../../shared/app/api/item-summaries.js';
import { leveledJsonLogger } from '../../../../shared/app/api/json-logger.js';
import { itemListSchema } from '../../../../shared/app/api/schemas.js';
import { ensureApiSigningKey, mintApiToken } from '../../../../shared/app/api/signing-key.js';
import { apply } from '../../../../shared/app/apply.js';
import { ChangeCounter, countWrites, JOURNAL_READS, STORE_READS } from '../../../../shared/app/change-counter.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { driveRotations, startRotation } from '../../../../shared/app/rotation/index.js';
import { rollbackItem } from '../../../../shared/app/rollback.js';
import { Trigger } from '../../../../shared/domain/rotation/record.js';
import type { UnitStatus } from '../../../../shared/app/status.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { silentLogger } from '../../../../shared/ports/logger.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { INVENTORY } from './fixture.js';

/**
 * The read model of GET /v1/items: a summary is answered until this process writes (the change counter moves) or it
 * reaches its age bound, whichever comes first; never a summary whose computation started before a write this
 * process finished, nor one older than the bound.
 */

const row = (version: string): UnitStatus => ({ name: 'web', kind: 'certificate', version });

describe('ItemSummaries', () => {
  it('answers one computation until this process writes; the next request after a write computes again', async () => {
    // Prepare
    const counter = new ChangeCounter();
    let computed = 0;
    const summaries = new ItemSummaries('shop', async () => [row(`v${++computed}`)], {
      version: () => counter.value,
      maxAgeMs: 3_600_000,
    });

    // Act
    const first = await summaries.get();
    const again = await summaries.get();
    counter.bump();
    const afterWrite = await summaries.get();

    // Assess
    expect(again).toBe(first);
    expect(first.items[0]?.version).toBe('v1');
    expect(afterWrite.items[0]?.version).toBe('v2');
    expect(JSON.parse(afterWrite.body)).toEqual({ inventory: 'shop', items: [row('v2')] });
    expect(computed).toBe(2);
  });

  it('without a write, answers a summary only while it is younger than the bound; concurrent requests share one computation', async () => {
    // Prepare
    let now = 1_000_000;
    let computed = 0;
    const summaries = new ItemSummaries('shop', async () => [row(`v${++computed}`)], { maxAgeMs: 5000, now: () => now });

    // Act
    const [a, b] = await Promise.all([summaries.get(), summaries.get()]);
    now += 4999;
    const young = await summaries.get();
    now += 1;
    const old = await summaries.get();

    // Assess
    expect(b).toBe(a);
    expect(young).toBe(a);
    expect(old.items[0]?.version).toBe('v2');
    expect(computed).toBe(2);
  });

  it('keeps no failed computation: the next request tries again', async () => {
    // Prepare
    let calls = 0;
    const summaries = new ItemSummaries(
      'shop',
      async () => {
        if (++calls === 1) throw new Error('store unavailable');
        return [row('v1')];
      },
      { maxAgeMs: 60_000 },
    );

    // Act
    const failed = await summaries.get().catch((e: unknown) => e);
    const next = await summaries.get();

    // Assess
    expect(failed).toBeInstanceOf(Error);
    expect(next.items[0]?.version).toBe('v1');
  });
});

describe('GET /v1/items on a runtime whose store and journal writes are counted (rekey serve)', () => {
  let root: string;
  let rt: TestRuntime;
  let deps: Deps;
  let api: Api;
  let token: string;
  const inventory = loadInventory(INVENTORY);

  const list = async () => {
    const req: ApiRequest = {
      method: 'GET',
      path: '/v1/items',
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${token}` },
      client: '192.0.2.1',
    };
    const res = await api.router(req);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    return itemListSchema.parse(JSON.parse(res.body));
  };
  const web = async () => (await list()).items.find((i) => i.name === 'web');
  const currentOf = async (name: string) =>
    (await rt.store.describe(`rekey/shop/${name}`))?.versions.find((v) => v.stages.includes('AWSCURRENT'))?.versionId;

  beforeEach(async () => {
    root = await makeTempDir('rekey-api-summaries-');
    rt = localRuntime(inventory, root);
    await apply(rt.deps, inventory);
    const changes = new ChangeCounter();
    deps = {
      ...rt.deps,
      store: countWrites(rt.store, STORE_READS, changes),
      journal: countWrites(rt.journal, JOURNAL_READS, changes),
    };
    const logger = leveledJsonLogger({ level: 'error', write: () => undefined });
    // An age bound of an hour: only the counted writes can make these answers change.
    api = createApi({
      inventory,
      deps,
      runtime: 'serve',
      logger,
      storeVersion: () => changes.value,
      itemsMaxAgeSeconds: 3600,
      router: { rateLimit: false },
    });
    const { material } = await ensureApiSigningKey(deps.store, inventory.name);
    token = await mintApiToken(material, { inventory: inventory.name, scopes: ['items:read'], ttlSeconds: 600 });
  });
  afterEach(() => removeTempDir(root));

  it('shows a rotation this process completed in the very next answer (bound 0), and the rollback after it', async () => {
    // Prepare
    const before = await web();
    expect(before?.version).toBe(await currentOf('web'));

    // Act
    await startRotation(deps, inventory, 'web', { trigger: Trigger.Api, reason: 'read model test' });
    const started = await web();
    await driveRotations(deps, inventory, rt.queue);
    const rotated = await web();
    const storedAfterRotation = await currentOf('web');
    await rollbackItem(deps, inventory, 'web', { reason: 'read model test' });
    const rolledBack = await web();

    // Assess
    expect(started?.rotation?.status).toBe('running');
    expect(rotated?.rotation?.status).toBe('completed');
    expect(rotated?.version).not.toBe(before?.version);
    expect(rotated?.version).toBe(storedAfterRotation);
    expect(rolledBack?.version).toBe(before?.version);
  });

  it('answers from the read model while nothing is written (a write behind its back stays unseen until the bound)', async () => {
    // Prepare
    const before = await web();

    // Act: the same FileVault written around the counted wrapper (what no process holding the state lock does)
    await rt.store.putCurrent(
      'rekey/shop/web',
      '00000000-0000-4000-8000-00000000abcd',
      (await rt.store.getVersion('rekey/shop/web'))!.value,
    );
    const unseen = await web();

    // Assess
    expect(unseen?.version).toBe(before?.version);
    expect(await currentOf('web')).toBe('00000000-0000-4000-8000-00000000abcd');
  });

  it('composeLocal counts the store and journal writes of the process (what serve hands the read model)', async () => {
    // Prepare
    const runtime = await composeLocal(inventory, { stateDir: `${root}/serve-state`, target: { kind: 'none' }, log: silentLogger });
    try {
      const start = runtime.changes.value;

      // Act
      await runtime.deps.store.describe('rekey/shop/web');
      const afterRead = runtime.changes.value;
      await apply(runtime.deps, inventory);
      const afterApply = runtime.changes.value;

      // Assess
      expect(afterRead).toBe(start);
      expect(afterApply).toBeGreaterThan(start);
    } finally {
      await runtime.close();
    }
  });
});
