import { CORE_SCHEMA, load, YAMLException } from 'js-yaml';
import { InvalidInventoryError, type InventoryIssue } from '../errors.js';
import { documentShapeIssues } from './document-shape.js';
import { fromZodIssues } from './issues.js';
import { LIMITS } from './limits.js';
import type { Inventory } from './model.js';
import { checkInventory, resolveInventory } from './resolve.js';
import { inventorySchema } from './schema.js';
import { escapeUnsafe } from './text.js';

/** Paths and messages may quote what the inventory holds: escape what a terminal would act on, cut what is long. */
function printable(issue: InventoryIssue): InventoryIssue {
  const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s);
  return { path: escapeUnsafe(cut(issue.path, 300)), message: escapeUnsafe(cut(issue.message, 1000)) };
}

function refuse(issues: readonly InventoryIssue[], source?: string): never {
  // A hostile document can yield thousands of issues; the first hundred say enough.
  const shown = issues.slice(0, 100).map(printable);
  if (issues.length > shown.length) shown.push({ path: '', message: `and ${issues.length - shown.length} more problems` });
  throw new InvalidInventoryError(shown, source);
}

/** Refuses an inventory of `bytes` bytes when it is over `LIMITS.inventoryBytes` (callers check before reading it all). */
export function checkInventorySize(bytes: number, source?: string): void {
  if (bytes > LIMITS.inventoryBytes)
    refuse([{ path: '', message: `the file has ${bytes} bytes; an inventory may have at most ${LIMITS.inventoryBytes}` }], source);
}

/** Parses YAML or JSON text (JSON is YAML) into plain data; syntax errors name line and column. */
export function parseInventoryText(text: string, source?: string): unknown {
  // Characters are at least as many as UTF-8 bytes divided by 4; the exact check is the caller's, on the file.
  checkInventorySize(text.length, source);
  // js-yaml: about eight times faster than `yaml` on a 10,000-certificate inventory; the core schema keeps
  // dates and the like as plain strings (and reads no merge keys). Duplicate keys are errors.
  try {
    return load(text, { schema: CORE_SCHEMA, ...(source && { filename: source }) });
  } catch (e) {
    if (!(e instanceof YAMLException)) throw e;
    const issue: InventoryIssue = {
      path: e.mark ? `line ${e.mark.line + 1}, column ${e.mark.column + 1}` : '',
      message: `YAML: ${e.reason}`,
    };
    refuse([issue], source);
  }
}

/** Validates parsed data: tree shape, then the schema, then the cross-field rules. Throws InvalidInventoryError naming every problem. */
export function validateInventory(data: unknown, source?: string): Inventory {
  const shape = documentShapeIssues(data);
  if (shape.length) refuse(shape, source);
  const parsed = inventorySchema().safeParse(data);
  if (!parsed.success) refuse(fromZodIssues(parsed.error.issues, data), source);
  const inventory = resolveInventory(parsed.data);
  const issues = checkInventory(inventory);
  if (issues.length) refuse(issues, source);
  return inventory;
}

/** Parses and validates an inventory; every problem is an `InvalidInventoryError` issue with its field path. */
export function loadInventory(text: string, source?: string): Inventory {
  return validateInventory(parseInventoryText(text, source), source);
}
