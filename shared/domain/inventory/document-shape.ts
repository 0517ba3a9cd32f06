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
const entriesOf = (c: Container): Array<[string | number, unknown]> => (Array.isArray(c) ? c.map((v, i) => [i, v]) : Object.entries(c));

/** Map entries and list elements written once each, aliases not followed twice. */
function uniqueValues(root: unknown): number {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  let count = 0;
  while (stack.length) {
    const v = stack.pop();
    if (!isContainer(v) || seen.has(v)) continue;
    seen.add(v);
    for (const [, child] of entriesOf(v)) {
      count++;
      stack.push(child);
    }
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
  const walk = (v: unknown, path: Array<string | number>): void => {
    if (overrun || !isContainer(v)) return;
    if (ancestors.has(v)) {
      issues.push({ path: formatPath(path), message: 'a YAML alias that contains itself (a cycle)' });
      return;
    }
    if (path.length > LIMITS.depth) {
      issues.push({ path: formatPath(path), message: `nested more than ${LIMITS.depth} levels deep` });
      return;
    }
    ancestors.add(v);
    for (const [key, child] of entriesOf(v)) {
      if (++visited > budget) {
        overrun = true;
        issues.push({
          path: formatPath(path),
          message: `YAML aliases expand the document by more than ${LIMITS.aliasExpansion} values (an alias bomb?): write the values out`,
        });
        break;
      }
      if (key === '<<' && !Array.isArray(v)) {
        issues.push({ path: formatPath([...path, key]), message: 'YAML merge keys ("<<") are not supported: write the fields out (an alias of a whole value works)' });
        continue;
      }
      walk(child, [...path, key]);
      if (overrun) break;
    }
    ancestors.delete(v);
  };
  walk(root, []);
  return issues;
}
