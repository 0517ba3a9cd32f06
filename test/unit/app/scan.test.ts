import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { driveRotations } from '../../../shared/app/rotation/index.js';
import { scan } from '../../../shared/app/scan.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
defaults: {validity: 2160h, renewBefore: 720h}
authorities:
  - {name: root, commonName: root, key: ECDSA-P256}
certificates:
  - {name: web, issuer: root, usage: server, commonName: web, dnsNames: [web], secret: {name: web, namespace: shop}}
`;

const DAY = 86_400_000;
let root: string;
let inventory: Inventory;
let rt: TestRuntime;
let now: Date;

beforeEach(async () => {
  root = await makeTempDir('rekey-scan-');
  inventory = loadInventory(INVENTORY);
  now = new Date();
  rt = localRuntime(inventory, root, { now: () => now });
});
afterEach(() => removeTempDir(root));

const ofType = (type: string) => rt.bus.published.filter((e) => e.type === type);

describe('scan (the schedule trigger)', () => {
  it('issues missing authorities, starts a rotation per missing leaf, and finds nothing to do once they ran', async () => {
    // Act
    const first = await scan(rt.deps, inventory);
    await driveRotations(rt.deps, inventory, rt.queue);
    const second = await scan(rt.deps, inventory);
    // Assess
    expect(first.issued).toEqual(['root']);
    expect(first.started.map((s) => [s.item, s.reason])).toEqual([['web', 'NeverIssued']]);
    expect((await rt.journal.get(first.started[0]!.rotationId))!.status).toBe('completed');
    expect(second).toMatchObject({ started: [], issued: [], expiring: [], drift: [], skipped: [] });
  });

  it('emits ExpiringSoon and starts a renewal when a certificate enters its renewal window', async () => {
    // Prepare
    await scan(rt.deps, inventory);
    await driveRotations(rt.deps, inventory, rt.queue);
    now = new Date(now.getTime() + 61 * DAY); // 90-day certificate, renewBefore 30 days
    // Act
    const result = await scan(rt.deps, inventory);
    // Assess
    expect(result.expiring.map((e) => e.item)).toEqual(['web']);
    expect(ofType(EventType.ExpiringSoon).map((e) => e.detail.item)).toEqual(['web']);
    expect(result.started.map((s) => [s.item, s.reason])).toEqual([['web', 'ExpiresSoon']]);
  });

  it('reports an edited Secret as drift without touching it, and repairs it when asked', async () => {
    // Prepare
    await scan(rt.deps, inventory);
    await driveRotations(rt.deps, inventory, rt.queue);
    const file = join(rt.outDir, 'default', 'shop', 'web.yaml');
    const edited = (await readFile(file, 'utf8')).replace(/rekey\/version: (\S+)/, 'rekey/version: someone-else');
    await writeFile(file, edited);
    // Act
    const reported = await scan(rt.deps, inventory);
    const untouched = await readFile(file, 'utf8');
    const repaired = await scan(rt.deps, inventory, { repair: true });
    const after = await scan(rt.deps, inventory);
    // Assess
    expect(reported.drift).toEqual([{ item: 'web', cluster: 'default', namespace: 'shop', secret: 'web', reason: 'SecretOutOfDate' }]);
    expect(untouched).toBe(edited);
    expect(ofType(EventType.DriftDetected).map((e) => e.detail.repaired)).toEqual([false, true]);
    expect(repaired.drift).toHaveLength(1);
    expect(after.drift).toEqual([]);
  });

  it('never starts a second rotation of an item that is rotating', async () => {
    // Prepare: a rotation started but not yet run
    await scan(rt.deps, inventory);
    // Act
    const again = await scan(rt.deps, inventory);
    // Assess
    expect(again.started).toEqual([]);
    expect(again.skipped).toEqual([{ item: 'web', reason: 'a rotation is already running' }]);
  });
});
