// The leaf machine's verify step probes what is served: a server that picks up the new Secret lets the rotation
// complete; one that keeps serving the old certificate fails verification after promotion, and the rotation
// rolls back (store and targets back on the previous version).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TlsProber } from '../../../../shared/adapters/probe/tls-prober.js';
import { apply } from '../../../../shared/app/apply.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { driveRotations, startRotation } from '../../../../shared/app/rotation/index.js';
import { EventType } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger } from '../../../../shared/domain/rotation/record.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { TestServers } from './servers.js';

let root: string;
let servers: TestServers;
let rt: TestRuntime;
let deps: Deps;
let inventory: Inventory;
/** What the server serves: the Secret as written to dc1 (a pod that reloads it), or a frozen copy. */
let frozen: { cert: string; key: string } | undefined;

/** tls.crt and tls.key of the Secret manifest on disk, as a pod mounting it would read them. */
function mounted(): { cert: string; key: string } {
  const doc = load(readFileSync(join(rt.outDir, 'dc1', 'shop', 'web-tls.yaml'), 'utf8')) as { data: Record<string, string> };
  const decode = (k: string) => Buffer.from(doc.data[k]!, 'base64').toString();
  return { cert: decode('tls.crt'), key: decode('tls.key') };
}
const currentVersion = async () => (await rt.store.getVersion('rekey/shop/web'))!.versionId;

beforeEach(async () => {
  root = await makeTempDir('rekey-verify-rotation-');
  servers = new TestServers();
  frozen = undefined;
  const port = await servers.tls(() => frozen ?? mounted());
  inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}]
authorities: [{name: ca, commonName: shop ca, key: ECDSA-P256}]
certificates:
  - name: web
    issuer: ca
    usage: server
    commonName: web.shop.svc
    dnsNames: [web.shop.svc]
    secret: {name: web-tls, namespace: shop}
    probe: [{tls: "127.0.0.1:${port}", serverName: web.shop.svc, timeout: 5s}]
`);
  rt = localRuntime(inventory, root);
  deps = { ...rt.deps, prober: new TlsProber() };
  await apply(deps, inventory);
});
afterEach(async () => {
  await servers.close();
  await removeTempDir(root);
});

describe('leaf rotation verified by probes', () => {
  it('completes when the endpoint serves the new certificate', async () => {
    // Act
    const record = await startRotation(deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(deps, inventory, rt.queue);
    // Assess
    const final = (await rt.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect(final.history.at(-1)).toMatchObject({
      step: 'verify',
      status: 'completed',
      message: 'every target holds the new version; 1 probe(s) passed',
    });
    expect(await currentVersion()).toBe(record.id);
  });

  it('rolls back when the endpoint keeps serving the old certificate after promotion', async () => {
    // Prepare
    const before = await currentVersion();
    frozen = mounted();
    // Act
    const record = await startRotation(deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(deps, inventory, rt.queue);
    // Assess: the rotation failed at verify (after its retries) and rolled back
    const final = (await rt.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.RolledBack);
    expect(final.history.at(-1)).toMatchObject({ step: 'verify', status: 'failed' });
    expect(final.error).toMatch(
      /^web: 1 of 1 probe\(s\) failed: 127\.0\.0\.1:\d+: serves [0-9a-f]{16}… \(CN=web\.shop\.svc\), expected [0-9a-f]{16}…$/,
    );
    expect(await currentVersion()).toBe(before);
    expect(mounted().cert).toBe(frozen.cert);
    const types = rt.bus.published.filter((e) => e.detail.rotationId === record.id).map((e) => e.type);
    expect(types.slice(-2)).toEqual([EventType.RotationFailed, EventType.RotationRolledBack]);
  });
});
