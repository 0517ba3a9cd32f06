import { readFileSync, statSync } from 'node:fs';
import { UsageError } from '../shared/domain/errors.js';
import { checkInventorySize, loadInventory } from '../shared/domain/inventory/load.js';
import type { Inventory } from '../shared/domain/inventory/model.js';

export function readInventory(path: string | undefined): Inventory {
  if (!path) throw new UsageError('missing -f INVENTORY');
  const cannotRead = (e: unknown) =>
    new UsageError(`cannot read inventory ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw cannotRead(e);
  }
  // Refuse an oversized file before reading it into memory.
  checkInventorySize(size, path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw cannotRead(e);
  }
  return loadInventory(text, path);
}
