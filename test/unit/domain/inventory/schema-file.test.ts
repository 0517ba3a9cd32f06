import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { inventoryJsonSchema } from '../../../../shared/domain/inventory/json-schema.js';

const root = new URL('../../../../', import.meta.url);
const examples = readdirSync(new URL('examples/', root)).filter((f) => /\.(ya?ml|json)$/.test(f));

describe('published inventory schema', () => {
  it('schema/inventory.schema.json is what the zod definition generates (run `npm run schema` when this fails)', () => {
    // Prepare
    const onDisk: unknown = JSON.parse(readFileSync(new URL('schema/inventory.schema.json', root), 'utf8'));
    // Act
    const generated: unknown = JSON.parse(JSON.stringify(inventoryJsonSchema()));
    // Assess
    expect(onDisk).toEqual(generated);
  });

  it('forbids unknown fields in the JSON Schema too, as the loader does', () => {
    // Act
    const schema = inventoryJsonSchema() as { additionalProperties?: unknown; properties: Record<string, unknown> };
    // Assess
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['apiVersion', 'kind', 'metadata', 'authorities', 'certificates', 'credentials', 'clusters', 'defaults']),
    );
  });
});

describe('examples', () => {
  it('there are examples to check', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(examples)('examples/%s is a valid inventory', (file) => {
    // Prepare
    const text = readFileSync(new URL(`examples/${file}`, root), 'utf8');
    // Act
    const inventory = loadInventory(text, file);
    // Assess
    expect(inventory.items.size).toBeGreaterThan(0);
    expect(inventory.items.size).toBe(inventory.authorities.length + inventory.certificates.length + inventory.credentials.length);
  });
});
