import type { z } from 'zod';
import type { InventoryIssue } from '../errors.js';
import { quote } from './text.js';

/** Writes a path like `certificates[3].secret.name`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
    // A key is the document's text: a hostile one must not make the path unreadable or endless.
    if (out.length > 300) return `${out.slice(0, 300)}…`;
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

function describeUnion(issue: z.core.$ZodIssueInvalidUnion, input: unknown): string {
  // Report the branch that matches the input's JSON type, so a string consumer gets the string's message.
  const wantObject = input !== null && typeof input === 'object';
  for (const branch of issue.errors) {
    const first = branch[0];
    if (!first) continue;
    const typeMismatch = first.code === 'invalid_type' && first.path.length === 0;
    if (!typeMismatch) {
      const suffix = first.path.length ? `${formatPath(first.path)}: ` : '';
      return suffix + (first.code === 'unrecognized_keys' ? `unknown field "${first.keys.join('", "')}"` : first.message);
    }
  }
  return wantObject ? 'object of an unexpected shape' : `unexpected value ${typeof input === 'string' ? quote(input) : String(input)}`;
}

/** Turns zod's issues into rekey's: one per problem, each with its field path. */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[], input: unknown): InventoryIssue[] {
  const out: InventoryIssue[] = [];
  for (const issue of issues) {
    const path = formatPath(issue.path);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
        break;
      case 'invalid_union':
        out.push({ path, message: describeUnion(issue, valueAt(input, issue.path)) });
        break;
      case 'invalid_type':
        out.push({
          path,
          message: valueAt(input, issue.path) === undefined ? 'required field is missing' : `expected ${issue.expected}`,
        });
        break;
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}
