import { RekeyError } from '../../domain/errors.js';
import { defined } from '../../domain/defined.js';

/** One requirement of a label selector, as Kubernetes' labels.Parse understands it. */
export type Requirement =
  | { readonly op: 'exists' | 'notExists'; readonly key: string }
  | { readonly op: 'in' | 'notIn'; readonly key: string; readonly values: readonly string[] };

export class InvalidSelectorError extends RekeyError {
  override readonly invalidInput = true;
}

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside `( )`. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms.map((t) => t.trim());
}

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key) || key.length > 316) throw new InvalidSelectorError(`label selector "${selector}": invalid label key "${key}"`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!VALUE.test(value) || value.length > 63)
    throw new InvalidSelectorError(`label selector "${selector}": invalid label value "${value}"`);
  return value;
}

/**
 * Parses a label selector (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-separated).
 * An empty selector is refused: it would select every workload of a namespace.
 */
export function parseSelector(selector: string): Requirement[] {
  if (selector.trim() === '') throw new InvalidSelectorError('empty label selector: it would select every workload');
  return splitTerms(selector).map((term): Requirement => {
    if (term === '') throw new InvalidSelectorError(`label selector "${selector}": empty requirement`);
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
    if (set) {
      const values = defined(set[3])
        .split(',')
        .map((v) => checkValue(v.trim(), selector));
      return { op: set[2] === 'in' ? 'in' : 'notIn', key: checkKey(defined(set[1]), selector), values };
    }
    const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (eq) {
      const value = checkValue(defined(eq[3]).trim(), selector);
      return { op: eq[2] === '!=' ? 'notIn' : 'in', key: checkKey(defined(eq[1]), selector), values: [value] };
    }
    if (term.startsWith('!')) return { op: 'notExists', key: checkKey(term.slice(1).trim(), selector) };
    return { op: 'exists', key: checkKey(term, selector) };
  });
}

/** Whether labels satisfy every requirement (Kubernetes semantics: `!=` and `notin` match a missing key). */
export function matches(requirements: readonly Requirement[], labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return requirements.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'notExists':
        return !has;
      case 'in':
        return has && r.values.includes(defined(l[r.key]));
      case 'notIn':
        return !has || !r.values.includes(defined(l[r.key]));
      default: {
        const never: never = r;
        throw new Error(`unknown requirement ${JSON.stringify(never)}`);
      }
    }
  });
}
