import { X509Certificate } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../shared/app/apply.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { authorityLevels, storeNameOf } from '../../../shared/domain/units.js';
import type { SecretStore } from '../../../shared/ports/secret-store.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

// Listed children first, so that inventory order is not depth order.
const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities:
  - {name: issuing-a, commonName: issuing-a, key: ECDSA-P256, parent: intermediate}
  - {name: intermediate, commonName: intermediate, key: ECDSA-P256, parent: root-a}
  - {name: root-a, commonName: root-a, key: ECDSA-P256}
  - {name: root-b, commonName: root-b, key: ECDSA-P256}
  - {name: root-c, commonName: root-c, key: ECDSA-P256}
  - {name: issuing-b, commonName: issuing-b, key: ECDSA-P256, parent: intermediate}
certificates:
  - {name: web, issuer: issuing-a, usage: server, commonName: web, dnsNames: [web], secret: {name: web, namespace: shop}}
`;

let root: string;
let inventory: Inventory;
let rt: TestRuntime;
beforeEach(async () => {
  root = await makeTempDir('rekey-apply-levels-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
});
afterEach(() => removeTempDir(root));

/** The store, recording when each write started and ended, and the most writes under way at once. */
function timedStore(store: SecretStore): { store: SecretStore; log: string[]; most: () => number } {
  const log: string[] = [];
  let running = 0;
  let most = 0;
  const timed = Object.create(store) as SecretStore;
  timed.putCurrent = async (name, ...rest) => {
    log.push(`start ${name}`);
    most = Math.max(most, ++running);
    try {
      return await store.putCurrent(name, ...rest);
    } finally {
      running--;
      log.push(`end ${name}`);
    }
  };
  return { store: timed, log, most: () => most };
}

const subjectOf = (pem: string) => new X509Certificate(pem).subject.replace('CN=', '');
const issuerOf = (pem: string) => new X509Certificate(pem).issuer.replace('CN=', '');

describe('apply: authorities of one depth at once', () => {
  it('levels are roots, then what they sign, in inventory order within each', () => {
    expect(authorityLevels(inventory).map((level) => level.map((a) => a.name))).toEqual([
      ['root-a', 'root-b', 'root-c'],
      ['intermediate'],
      ['issuing-a', 'issuing-b'],
    ]);
  });

  it('issues the roots together, each parent stored before what it signs, every CA signed by its parent', async () => {
    // Prepare
    const { store, log, most } = timedStore(rt.deps.store);
    // Act
    const result = await apply({ ...rt.deps, store }, inventory);
    // Assess
    expect(result.problems).toEqual([]);
    expect(result.decisions.map((d) => d.unit)).toEqual(['root-a', 'root-b', 'root-c', 'intermediate', 'issuing-a', 'issuing-b', 'web']);
    const at = (entry: string) => log.indexOf(entry);
    const name = (item: string) => storeNameOf('shop', item);
    // The three roots were all under way before any finished
    expect(Math.max(...['root-a', 'root-b', 'root-c'].map((r) => at(`start ${name(r)}`)))).toBeLessThan(
      Math.min(...['root-a', 'root-b', 'root-c'].map((r) => at(`end ${name(r)}`))),
    );
    expect(most()).toBeGreaterThanOrEqual(3);
    // A parent's write ends before its child's starts
    for (const [parent, child] of [
      ['root-a', 'intermediate'],
      ['intermediate', 'issuing-a'],
      ['intermediate', 'issuing-b'],
      ['issuing-a', 'web'],
    ] as const)
      expect(at(`end ${name(parent)}`), `${parent} before ${child}`).toBeLessThan(at(`start ${name(child)}`));
    const certificateOf = async (item: string) => JSON.parse((await rt.deps.store.getVersion(name(item)))!.value).cert as string;
    for (const [item, issuer] of [
      ['root-b', 'root-b'],
      ['intermediate', 'root-a'],
      ['issuing-b', 'intermediate'],
      ['web', 'issuing-a'],
    ] as const) {
      const pem = await certificateOf(item);
      expect(subjectOf(pem)).toBe(item);
      expect(issuerOf(pem), item).toBe(issuer);
    }
  });
});
