import { createHash } from 'node:crypto';
import type { Inventory, Item } from './model.js';

/**
 * A validated inventory as JSON text, and back: what the functions' packaging embeds so that a cold start reads
 * the inventory it was packaged with without its YAML parser and schema (issue 14, target 5). Every field of the
 * model is plain data except `items`, which is the other lists by name and is rebuilt from them.
 */
export function serializeInventory(inventory: Inventory): string {
  const { items: _byName, ...lists } = inventory;
  return JSON.stringify(lists, (_k, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`the inventory holds ${v}, which JSON cannot`);
    if (v instanceof Map || v instanceof Set) throw new Error('the inventory holds a Map or Set beside its items');
    return v;
  });
}

/** The inventory `serializeInventory` wrote (trusted: validated when it was written). */
export function deserializeInventory(text: string): Inventory {
  const lists = JSON.parse(text) as Omit<Inventory, 'items'>;
  const items = new Map<string, Item>();
  for (const item of [...lists.authorities, ...lists.certificates, ...lists.credentials])
    if (!items.has(item.name)) items.set(item.name, item);
  return { ...lists, items };
}

/** The digest that ties a serialized inventory to the file it was read from. */
export function inventoryFileDigest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
