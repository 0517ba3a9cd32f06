import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../shared/app/apply.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { storeNameOf } from '../../../shared/domain/units.js';
import type { Cluster, SecretSink } from '../../../shared/ports/cluster.js';
import type { SecretStore } from '../../../shared/ports/secret-store.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

// Issue 14, target 6: apply writes a unit's Secret as soon as its version is stored, while other units are still
// being issued, and reports as before (inventory order, same content).
const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}]
authorities:
  - {name: root, commonName: root, key: ECDSA-P256}
certificates:
  - {name: web, issuer: root, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}}
  - {name: api, issuer: root, usage: server, commonName: api, dnsNames: [api], secret: {name: api-tls, namespace: shop}}
`;

/** Far longer than any run of this test: only breaks the wait of an apply that writes nothing before it issues all. */
const DEADLOCK_BREAKER_MS = 20_000;

let root: string;
let inventory: Inventory;
let rt: TestRuntime;
beforeEach(async () => {
  root = await makeTempDir('rekey-apply-overlap-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
});
afterEach(() => removeTempDir(root));

/** The runtime's dc1 writer, recording each Secret written into `order` and telling `written` of it. */
function recordingCluster(order: string[], written: (name: string) => void): Map<string, Cluster> {
  const sink = rt.deps.clusters.get('dc1')?.secrets as SecretSink;
  const recording: SecretSink = {
    listSecrets: (namespace) => sink.listSecrets(namespace),
    getSecret: (namespace, name) => sink.getSecret(namespace, name),
    writeSecret: async (secret, options) => {
      const outcome = await sink.writeSecret(secret, options);
      order.push(`wrote ${secret.name}`);
      written(secret.name);
      return outcome;
    },
  };
  return new Map([['dc1', { name: 'dc1', secrets: recording }]]);
}

/** The store, with putCurrent of `gated` held until `gate` settles (then failing with `failWith`, if given). */
function gatedStore(order: string[], gated: string, gate: Promise<unknown>, failWith?: Error): SecretStore {
  const store = rt.deps.store;
  const wrapped = Object.create(store) as SecretStore;
  wrapped.putCurrent = async (...args: Parameters<SecretStore['putCurrent']>) => {
    if (args[0] === gated) {
      await gate;
      if (failWith) throw failWith;
    }
    const result = await store.putCurrent(...args);
    order.push(`stored ${args[0]}`);
    return result;
  };
  return wrapped;
}

/** A gate that opens once api's Secret is written (or after the deadlock breaker), and the cluster that opens it. */
function openedByApiSecret(order: string[]): { gate: Promise<void>; clusters: ReturnType<typeof recordingCluster> } {
  let apiWritten!: () => void;
  const gate = new Promise<void>((resolve) => {
    apiWritten = resolve;
    setTimeout(resolve, DEADLOCK_BREAKER_MS).unref();
  });
  return { gate, clusters: recordingCluster(order, (name) => name === 'api-tls' && apiWritten()) };
}

describe('apply writes Secrets while it still issues', () => {
  it("writes api's Secret before web's version is stored, and reports in inventory order", async () => {
    // Prepare: web's store write waits until api's Secret is written (an apply that syncs only after issuing
    // everything never gets there: the breaker lets it go on, and the order below fails it).
    const order: string[] = [];
    const { gate, clusters } = openedByApiSecret(order);
    const store = gatedStore(order, storeNameOf('shop', 'web'), gate);
    // Act
    const result = await apply({ ...rt.deps, store, clusters }, inventory);
    // Assess
    expect(order.indexOf('wrote api-tls')).toBeGreaterThan(order.indexOf(`stored ${storeNameOf('shop', 'api')}`));
    expect(order.indexOf('wrote api-tls')).toBeLessThan(order.indexOf(`stored ${storeNameOf('shop', 'web')}`));
    expect(order.indexOf('wrote web-tls')).toBeGreaterThan(order.indexOf(`stored ${storeNameOf('shop', 'web')}`));
    expect(result.problems).toEqual([]);
    expect(result.decisions.map((d) => `${d.unit} ${d.action}`)).toEqual(['root issue', 'web issue', 'api issue']);
    expect(result.sync.secrets.map((s) => `${s.secret} ${s.change}`)).toEqual(['web-tls created', 'api-tls created']);
    const synced = rt.bus.published.filter((e) => e.type === EventType.SecretSynced).map((e) => e.detail.item);
    expect(synced.sort()).toEqual(['api', 'web']);
  }, 60_000);

  it('publishes the events of the Secrets it wrote when a later issuance fails, then fails', async () => {
    // Prepare: web's store write fails once api's Secret is written
    const order: string[] = [];
    const { gate, clusters } = openedByApiSecret(order);
    const store = gatedStore(order, storeNameOf('shop', 'web'), gate, new Error('disk full'));
    // Act
    const failed = apply({ ...rt.deps, store, clusters }, inventory);
    // Assess: api's Secret was written and its event published; web has no version and no Secret
    await expect(failed).rejects.toThrow('disk full');
    expect(order).toContain('wrote api-tls');
    expect(order).not.toContain('wrote web-tls');
    const synced = rt.bus.published.filter((e) => e.type === EventType.SecretSynced).map((e) => e.detail.item);
    expect(synced).toEqual(['api']);
    expect(await rt.deps.store.describe(storeNameOf('shop', 'web'))).toBeUndefined();
  }, 60_000);
});
