import { CORE_SCHEMA, dump } from 'js-yaml';

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
