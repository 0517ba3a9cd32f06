import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRuntime, lazyRuntime, readPackagedInventory } from '../../../functions/lib/runtime.js';
import { UsageError } from '../../../shared/domain/errors.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { inventoryFileDigest, serializeInventory } from '../../../shared/domain/inventory/serialized.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { SMALL_INVENTORY } from './fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-fn-runtime-');
  await mkdir(join(dir, 'examples'));
  await writeFile(join(dir, 'examples', 'shop.yaml'), SMALL_INVENTORY);
});
afterEach(() => removeTempDir(dir));

const ENV = { REKEY_STEP_QUEUE_URL: 'http://127.0.0.1:1/000000000000/q.fifo', REKEY_JOURNAL_TABLE: 't', AWS_REGION: 'us-east-1' };

describe('Lambda runtime', () => {
  it('reads the packaged inventory relative to the package root (LAMBDA_TASK_ROOT)', async () => {
    const inventory = await readPackagedInventory({ LAMBDA_TASK_ROOT: dir, REKEY_INVENTORY_FILE: 'examples/shop.yaml' });
    expect(inventory.name).toBe('shop');
  });

  it('takes the copy validated at package time when the file is the one packaged, and validates any other file', async () => {
    // Arrange: a packaged copy of another inventory, tied to the digest of shop.yaml's text
    const text = SMALL_INVENTORY;
    const other = loadInventory(text.replace('metadata: {name: shop}', 'metadata: {name: packaged-copy}'));
    const packaged = { sha256: inventoryFileDigest(text), json: serializeInventory(other) };
    const env = { LAMBDA_TASK_ROOT: dir, REKEY_INVENTORY_FILE: 'examples/shop.yaml' };

    // Act
    const same = await readPackagedInventory(env, packaged);
    await writeFile(join(dir, 'examples', 'shop.yaml'), text + '\n# changed after packaging\n');
    const changed = await readPackagedInventory(env, packaged);

    // Assert: the copy is used only for the very text it was made from
    expect(same.name).toBe('packaged-copy');
    expect(same).toStrictEqual(other);
    expect(changed.name).toBe('shop');
  });

  it('says which file is missing', async () => {
    await expect(readPackagedInventory({ LAMBDA_TASK_ROOT: dir })).rejects.toThrow(
      new UsageError(`cannot read the inventory ${join(dir, 'inventory.yaml')} (REKEY_INVENTORY_FILE): ENOENT`),
    );
  });

  it('cold start builds the AWS adapters from the environment and checks its own settings', async () => {
    const rt = await buildRuntime({
      env: { ...ENV, LAMBDA_TASK_ROOT: dir, REKEY_INVENTORY_FILE: 'examples/shop.yaml', REKEY_STEP_MAX_ATTEMPTS: '7' },
    });
    expect(rt.inventory.name).toBe('shop');
    expect(rt.stepMaxAttempts).toBe(7);
    await expect(
      buildRuntime({ env: { ...ENV, LAMBDA_TASK_ROOT: dir, REKEY_INVENTORY_FILE: 'examples/shop.yaml', REKEY_STEP_MAX_ATTEMPTS: 'x' } }),
    ).rejects.toThrow(/REKEY_STEP_MAX_ATTEMPTS=x/);
    await expect(buildRuntime({ env: { LAMBDA_TASK_ROOT: dir, REKEY_INVENTORY_FILE: 'examples/shop.yaml' } })).rejects.toThrow(
      /REKEY_STEP_QUEUE_URL, REKEY_JOURNAL_TABLE/,
    );
  });

  it('cold start makes the shared per-client rate limit of the API from the environment, refusing a bad setting', async () => {
    // Prepare
    const env = { ...ENV, LAMBDA_TASK_ROOT: dir, REKEY_INVENTORY_FILE: 'examples/shop.yaml' };

    // Act
    const rt = await buildRuntime({ env: { ...env, REKEY_API_RATE_LIMIT: '120', REKEY_API_RATE_WINDOW_SECONDS: '60' } });

    // Assess
    expect(rt.aws.rateLimit).toBeDefined();
    await expect(buildRuntime({ env: { ...env, REKEY_API_RATE_LIMIT: '0' } })).rejects.toThrow(
      /REKEY_API_RATE_LIMIT=0: expected a whole number ≥ 1/,
    );
    await expect(buildRuntime({ env: { ...env, REKEY_API_RATE_WINDOW_SECONDS: '10s' } })).rejects.toThrow(
      /REKEY_API_RATE_WINDOW_SECONDS=10s/,
    );
  });

  it('builds the runtime once per process, on first use', async () => {
    let builds = 0;
    const get = lazyRuntime(() => {
      builds++;
      return {} as never;
    });
    expect(builds).toBe(0);
    const [a, b] = await Promise.all([get(), get()]);
    expect(builds).toBe(1);
    expect(a).toBe(b);
  });

  it('builds the runtime again on the next invocation when a build failed', async () => {
    // Prepare: the first build fails (e.g. the inventory could not be read), the second succeeds.
    let builds = 0;
    const get = lazyRuntime(() => {
      builds++;
      if (builds === 1) throw new UsageError('cannot read the inventory');
      return {} as never;
    });

    // Act + Assess
    await expect(get()).rejects.toThrow('cannot read the inventory');
    await expect(get()).resolves.toEqual({});
    await get();
    expect(builds).toBe(2);
  });

  it('fails clearly when no kubeconfig is stored for the inventory', async () => {
    // Prepare: a store with nothing in it.
    const rt = await buildRuntime({
      env: { ...ENV, LAMBDA_TASK_ROOT: dir, REKEY_INVENTORY_FILE: 'examples/shop.yaml' },
      aws: { store: { getVersion: async () => undefined } } as never,
    });

    // Act + Assess
    await expect(rt.clusters()).rejects.toThrow('no kubeconfig in Secrets Manager at rekey/shop/kubeconfig (REKEY_KUBECONFIG_SECRET)');
  });
});
