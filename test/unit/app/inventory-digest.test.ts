import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inventoryDigest } from '../../../shared/app/renewals.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';

const text = readFileSync('examples/apiconnect.yaml', 'utf8');

describe('inventory digest (the renewal index is trusted only for the inventory its last full reconcile saw)', () => {
  it('is the digest earlier versions wrote into reconcile marks, so an upgrade does not force a full reconcile', () => {
    expect(inventoryDigest(loadInventory(text))).toBe('0f1f08d625d8a7bc901ae1bf18cc706811aa06ac7e4a1ef0c3e3aa55bf7ab627');
  });

  it('is the same for an equal inventory loaded again, and changes with what decides when a unit is due', () => {
    // Arrange
    const first = loadInventory(text);
    const again = loadInventory(text);
    const changed = loadInventory(text.replace(/renewBefore: \S+/, 'renewBefore: 1h'));

    // Act, twice for the first: a warm function computes it once
    const digests = [inventoryDigest(first), inventoryDigest(first), inventoryDigest(again), inventoryDigest(changed)];

    // Assert
    expect(digests[1]).toBe(digests[0]);
    expect(digests[2]).toBe(digests[0]);
    expect(digests[3]).not.toBe(digests[0]);
  });
});
