import type { InventoryIssue } from '../errors.js';
import { formatPath } from './issues.js';
import { LIMITS } from './limits.js';

/**
 * Checks on the parsed YAML tree before the schema walks it. YAML anchors and aliases make a small text into a
 * shared graph whose expansion can be exponential (billion laughs: a 25 KB inventory became a 91 MB vault
 * entry); an alias can also point at its own ancestor (a cycle). Merge keys (`<<:`) are YAML 1.1 and not read
 * by the loader, so without this check they surface as misleading "required field is missing" errors.
 */

type Container = readonly unknown[] | Record<string, unknown>;
const isContainer = (v: unknown): v is Container => v !== null && typeof v === 'object';

/** Map entries and list elements written once each, aliases not followed twice. */
function uniqueValues(root: unknown): number {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  let count = 0;
  while (stack.length) {
    const v = stack.pop();
    if (!isContainer(v) || seen.has(v)) continue;
    seen.add(v);
    const children = Array.isArray(v) ? v : Object.values(v);
    count += children.length;
    for (const child of children) if (isContainer(child)) stack.push(child);
  }
  return count;
}

/**
 * Returns the problems of the tree's shape: merge keys, alias cycles, nesting deeper than `LIMITS.depth`, and
 * alias expansion beyond `LIMITS.aliasExpansion` values more than the text writes. Stops walking at the first
 * budget overrun, so its cost is bounded by the text, not by the expansion.
 */
export function documentShapeIssues(root: unknown): InventoryIssue[] {
  const issues: InventoryIssue[] = [];
  const budget = uniqueValues(root) + LIMITS.aliasExpansion;
  let visited = 0;
  let overrun = false;
  const ancestors = new Set<object>();
  // One path, pushed and popped: the walk visits every value of a 10,000-certificate inventory.
  const path: Array<string | number> = [];
  const visit = (key: string | number, child: unknown, parent: Container): boolean => {
    if (++visited > budget) {
      overrun = true;
      issues.push({
        path: formatPath(path),
        message: `YAML aliases expand the document by more than ${LIMITS.aliasExpansion} values (an alias bomb?): write the values out`,
      });
      return false;
    }
    path.push(key);
    if (key === '<<' && !Array.isArray(parent)) {
      issues.push({
        path: formatPath(path),
        message: 'YAML merge keys ("<<") are not supported: write the fields out (an alias of a whole value works)',
      });
    } else if (isContainer(child)) {
      walk(child);
    }
    path.pop();
    return !overrun;
  };
  const walk = (v: Container): void => {
    if (ancestors.has(v)) {
      issues.push({ path: formatPath(path), message: 'a YAML alias that contains itself (a cycle)' });
      return;
    }
    if (path.length > LIMITS.depth) {
      issues.push({ path: formatPath(path), message: `nested more than ${LIMITS.depth} levels deep` });
      return;
    }
    ancestors.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (!visit(i, v[i], v)) break;
    } else {
      for (const key of Object.keys(v)) if (!visit(key, (v as Record<string, unknown>)[key], v)) break;
    }
    ancestors.delete(v);
  };
  if (isContainer(root)) walk(root);
  return issues;
}
