import { parseDocument } from 'yaml';
import { InvalidInventoryError, type InventoryIssue } from '../errors.js';
import { fromZodIssues } from './issues.js';
import type { Inventory } from './model.js';
import { checkInventory, resolveInventory } from './resolve.js';
import { inventorySchema } from './schema.js';

/** Parses YAML or JSON text (JSON is YAML) into plain data; syntax errors name line and column. */
export function parseInventoryText(text: string, source?: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    const issues: InventoryIssue[] = doc.errors.map((e) => ({
      path: e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
      message: e.message.split('\n')[0] ?? e.message,
    }));
    throw new InvalidInventoryError(issues, source);
  }
  return doc.toJS();
}

/** Validates parsed data: shape first, then the cross-field rules. Throws InvalidInventoryError naming every problem. */
export function validateInventory(data: unknown, source?: string): Inventory {
  const parsed = inventorySchema.safeParse(data);
  if (!parsed.success) throw new InvalidInventoryError(fromZodIssues(parsed.error.issues, data), source);
  const inventory = resolveInventory(parsed.data);
  const issues = checkInventory(inventory);
  if (issues.length) throw new InvalidInventoryError(issues, source);
  return inventory;
}

export function loadInventory(text: string, source?: string): Inventory {
  return validateInventory(parseInventoryText(text, source), source);
}
