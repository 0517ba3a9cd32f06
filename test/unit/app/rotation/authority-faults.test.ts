import { afterEach, beforeEach, describe, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { authorityCrashInventory, authorityCrashPoints, expectAuthorityCrashRecovers } from '../../../fixtures/authority-crash-scenario.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/**
 * The authority machine killed once after each side effect, on the embedded runtime: the encrypted file vault and
 * the JSON journal in a temp folder, Secrets as manifests for dc1 and dc2. The same crash points and checks run on
 * Secrets Manager and DynamoDB in test/integration/aws/authority-faults.test.ts.
 */

let root: string;
let inventory: Inventory;
let rt: TestRuntime;

beforeEach(async () => {
  root = await makeTempDir('rekey-ca-faults-');
  inventory = loadInventory(authorityCrashInventory('shop'));
  rt = localRuntime(inventory, root);
  await apply(rt.deps, inventory);
});
afterEach(() => removeTempDir(root));

describe('authority rotation under worker crashes and duplicate deliveries (file vault, JSON journal)', () => {
  it.each(authorityCrashPoints('shop'))(
    'completes exactly once, trust held throughout, when the worker dies $name',
    async ({ dies, completionLost }) => {
      await expectAuthorityCrashRecovers(rt.deps, inventory, dies, { completionLost });
    },
  );
});
