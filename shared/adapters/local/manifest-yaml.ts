import { CORE_SCHEMA, dump } from 'js-yaml';
import { defined } from '../../domain/defined.js';

/** A manifest as `apply --out` writes it: nested maps whose leaves are strings. */
export interface StringTree {
  readonly [key: string]: string | StringTree;
}

const DUMP_OPTIONS = { lineWidth: -1, schema: CORE_SCHEMA } as const;

/**
 * Strings written unquoted here: they start with a letter or digit and hold only letters, digits and `_ . / + = : -`
 * (names, labels, ISO times, UUIDs, hex, base64), do not end with `:`, and are not what the YAML 1.2 core schema
 * reads as null, a boolean or a number. js-yaml writes such a string plain too; anything else (quoted, escaped or
 * block style there) makes the whole manifest go to js-yaml.
 */
const PLAIN = /^[A-Za-z0-9][\w./+=:-]*$/;
const NOT_A_STRING =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const plain = (s: string): boolean => PLAIN.test(s) && !s.endsWith(':') && !NOT_A_STRING.test(s);

/** The block YAML of `tree` when every key and string is plain; undefined otherwise. */
function plainYaml(tree: StringTree, indent: string, out: string[]): boolean {
  for (const key of Object.keys(tree)) {
    const value = tree[key];
    if (!plain(key) || value === undefined) return false;
    if (typeof value === 'string') {
      if (!plain(value)) return false;
      out.push(`${indent}${key}: ${value}\n`);
    } else if (Object.keys(value).length === 0) {
      out.push(`${indent}${key}: {}\n`);
    } else {
      out.push(`${indent}${key}:\n`);
      if (!plainYaml(value, `${indent}  `, out)) return false;
    }
  }
  return true;
}

/**
 * The YAML of a manifest, byte for byte what js-yaml's `dump` with `--out`'s options writes (a test holds the two
 * together): written here for the usual manifest, whose every string is plain (js-yaml's dump cost more than
 * issuing the certificate it holds), and by js-yaml for anything that needs quoting.
 */
export function manifestYaml(tree: StringTree): string {
  const out: string[] = [];
  return plainYaml(tree, '', out) ? out.join('') : dump(tree, DUMP_OPTIONS);
}

/** Whether `manifestYaml` writes `tree` itself (for its test). */
export function isWrittenPlain(tree: StringTree): boolean {
  return plainYaml(tree, '', []);
}

/**
 * Reads back what `manifestYaml` writes itself: block maps, two spaces per level, every key and string plain, `{}`
 * for an empty map. Anything else (a comment, a quote, a list, a tab, a duplicate key, a key without a value, a
 * string the core schema reads as something else) gives undefined, and the caller reads the text with js-yaml,
 * which gives the same tree for everything this accepts (a test holds the two together). A renewal reads every
 * manifest of `--out` before it writes: js-yaml's load cost 1.4 s of such a run of 10,000.
 */
export function readPlainYaml(text: string): StringTree | undefined {
  const root: Record<string, string | StringTree> = {};
  // The maps still open, by depth: stack[d] takes the keys indented 2*d spaces.
  const stack: Array<Record<string, string | StringTree>> = [root];
  let awaitingChildren = false;
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    if (end === -1) return undefined; // the writer ends every line
    let spaces = 0;
    while (text.charCodeAt(at + spaces) === 32) spaces++;
    if (spaces % 2 !== 0) return undefined;
    const depth = spaces / 2;
    // A key with children must get them on the next line, one level deeper; a deeper line otherwise has no parent.
    if (awaitingChildren ? depth !== stack.length - 1 : depth > stack.length - 1) return undefined;
    awaitingChildren = false;
    stack.length = depth + 1;
    const line = text.slice(at + spaces, end);
    at = end + 1;
    // Keys and strings hold no space and end with no colon: the key ends at the first ': ', or the line with ':'.
    const split = line.indexOf(': ');
    const colon = split === -1 && line.endsWith(':') ? line.length - 1 : split;
    const key = colon > 0 ? line.slice(0, colon) : '';
    const map = defined(stack[depth]);
    if (!key || !plain(key) || Object.hasOwn(map, key)) return undefined;
    const rest = line.slice(colon + 1);
    if (rest === '') {
      const child: Record<string, string | StringTree> = {};
      map[key] = child;
      stack.push(child);
      awaitingChildren = true;
    } else if (rest === ' {}') {
      map[key] = {};
    } else {
      const value = rest.slice(1);
      if (rest[0] !== ' ' || !plain(value)) return undefined;
      map[key] = value;
    }
  }
  return awaitingChildren || text.length === 0 ? undefined : root;
}
