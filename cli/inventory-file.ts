import { readFileSync } from 'node:fs';
import { UsageError } from '../shared/domain/errors.js';
import { loadInventory } from '../shared/domain/inventory/load.js';
import type { Inventory } from '../shared/domain/inventory/model.js';

export function readInventory(path: string | undefined): Inventory {
  if (!path) throw new UsageError('missing -f INVENTORY');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read inventory ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return loadInventory(text, path);
}
