import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { deserializeInventory, serializeInventory } from '../../../../shared/domain/inventory/serialized.js';
import { baseDoc } from '../../../fixtures/inventories.js';

const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(dir, f));

describe('serialized inventory (what the functions are packaged with)', () => {
  const files = [...yamlFiles('examples'), ...yamlFiles('test/fixtures/inventories')];

  it.each(files)('%s comes back from JSON equal, field for field, with its items by name', (file) => {
    // Arrange
    const inventory = loadInventory(readFileSync(file, 'utf8'), file);

    // Act
    const back = deserializeInventory(serializeInventory(inventory));

    // Assert
    expect(back).toStrictEqual(inventory);
    expect([...back.items.keys()]).toEqual([...inventory.items.keys()]);
    for (const c of back.certificates) expect(back.items.get(c.name)).toBe(c);
  });

  it('comes back equal for the test inventory of every kind of item', () => {
    const inventory = loadInventory(dump(baseDoc()));
    expect(deserializeInventory(serializeInventory(inventory))).toStrictEqual(inventory);
  });

  it('refuses what JSON cannot hold rather than changing it', () => {
    const inventory = loadInventory(dump(baseDoc()));
    const odd = { ...inventory, certificates: inventory.certificates.map((c) => ({ ...c, validityMs: Infinity })) } as Inventory;
    expect(() => serializeInventory(odd)).toThrow('the inventory holds Infinity, which JSON cannot');
  });
});
