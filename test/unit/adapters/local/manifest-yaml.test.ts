import { CORE_SCHEMA, dump, load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { isWrittenPlain, manifestYaml, readPlainYaml, type StringTree } from '../../../../shared/adapters/local/manifest-yaml.js';

const B64 = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

/** A manifest as `apply --out` writes one for a certificate. */
const tls = (overrides: { annotations?: Record<string, string>; data?: Record<string, string> } = {}): StringTree => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {
    name: 'svc-0-tls',
    namespace: 'ns-0',
    labels: { 'app.kubernetes.io/managed-by': 'rekey' },
    annotations: {
      'rekey/inventory': 'bench-e2e',
      'rekey/item': 'svc-0',
      'rekey/version': '6ad7b0b4-8a6a-4f4f-be0d-b028ffa2a6c0',
      'rekey/content-hash': '9a681aefbc2612a558b102a86db24fc6889bd03de2ac4a565318e5fceea40aaf',
      'rekey/not-after': '2027-03-01T09:47:11.279Z',
      ...overrides.annotations,
    },
  },
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': B64, 'tls.key': `${B64}+/==`, 'ca.crt': B64, ...overrides.data },
});

/**
 * A fixed pseudo-random sequence (so a failure repeats): a 32-bit linear congruential generator, its high 24 bits.
 * In plain number arithmetic the product outgrows 2^53 and the low bits, which `% n` picks, are lost.
 */
function pseudoRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8;
}

/** Strings YAML readers take for something else, or that need quoting or escaping. */
const TRICKY = [
  '',
  'true',
  'True',
  'false',
  'yes',
  'No',
  'on',
  'OFF',
  'y',
  'N',
  'null',
  'Null',
  '~',
  '123',
  '-1',
  '+12',
  '0x1F',
  '0o17',
  '1_000',
  '1e3',
  '.5',
  '.inf',
  '-.Inf',
  '.NaN',
  '12:30',
  '2027-03-01',
  'a: b',
  'a:',
  ':a',
  '#x',
  'x #y',
  ' lead',
  'trail ',
  'multi\nline',
  'tab\there',
  'é',
  'ünïcode',
  '-',
  '- a',
  '?',
  '? a',
  '[a]',
  '{a}',
  '*ref',
  '&anchor',
  '!tag',
  '%pct',
  '@at',
  '`tick',
  '"q"',
  "'q'",
  '|',
  '>',
  'a,b',
  'a=b',
  '+abc',
  '/abc',
  'abc/',
  'a:b:c',
  'ends-with-dash-',
  'x'.repeat(500),
  '<<',
  '=',
  'A',
  'a b',
];

describe('manifestYaml (apply --out)', () => {
  it('writes the usual manifest itself, byte for byte what js-yaml dumps, and it reads back the same', () => {
    // Prepare
    const manifest = tls();
    // Act
    const text = manifestYaml(manifest);
    // Assess
    expect(isWrittenPlain(manifest)).toBe(true);
    expect(text).toBe(dump(manifest, { lineWidth: -1, schema: CORE_SCHEMA }));
    expect(load(text, { schema: CORE_SCHEMA })).toEqual(manifest);
  });

  it('writes empty maps as {} like js-yaml', () => {
    // Prepare
    const manifest: StringTree = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'a', namespace: 'b', labels: {}, annotations: {} },
      type: 'Opaque',
      data: {},
    };
    // Act / Assess
    expect(isWrittenPlain(manifest)).toBe(true);
    expect(manifestYaml(manifest)).toBe(dump(manifest, { lineWidth: -1, schema: CORE_SCHEMA }));
  });

  it.each(TRICKY)('matches js-yaml and reads back for %j as a value and as a key', (s) => {
    // Prepare
    const asValue = tls({ annotations: { 'rekey/reason': s } });
    const asKey = tls({ data: { [s]: 'dmFsdWU=' } });
    // Act / Assess
    for (const manifest of [asValue, asKey]) {
      const text = manifestYaml(manifest);
      expect(text).toBe(dump(manifest, { lineWidth: -1, schema: CORE_SCHEMA }));
      expect(load(text, { schema: CORE_SCHEMA })).toEqual(manifest);
    }
  });

  it('matches js-yaml on random strings of the characters plain scalars may hold', () => {
    // Prepare: a fixed pseudo-random sequence, so a failure repeats
    const next = pseudoRandom(42);
    const alphabet = 'aeEZx09_./+=:-# ';
    const strings = Array.from({ length: 2000 }, () =>
      Array.from({ length: 1 + (next() % 8) }, () => alphabet[next() % alphabet.length]).join(''),
    );
    // Act
    const mismatches = strings.filter((s) => {
      const manifest = tls({ annotations: { [`k${s}`]: s } });
      return manifestYaml(manifest) !== dump(manifest, { lineWidth: -1, schema: CORE_SCHEMA });
    });
    // Assess
    expect(mismatches).toEqual([]);
  });
});

describe('readPlainYaml (reading --out back)', () => {
  const jsYaml = (text: string): unknown => load(text, { schema: CORE_SCHEMA });

  it('reads the usual manifest and empty maps as js-yaml does', () => {
    // Prepare
    const empty: StringTree = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'a', labels: {} }, data: {} };
    // Act / Assess
    for (const manifest of [tls(), empty]) {
      const text = manifestYaml(manifest);
      expect(readPlainYaml(text)).toEqual(manifest);
      expect(readPlainYaml(text)).toEqual(jsYaml(text));
    }
  });

  it.each(TRICKY)('reads %j as js-yaml does, or leaves the manifest to js-yaml', (s) => {
    // Prepare
    for (const manifest of [tls({ annotations: { 'rekey/reason': s } }), tls({ data: { [s]: 'dmFsdWU=' } })]) {
      const text = manifestYaml(manifest);
      // Act
      const read = readPlainYaml(text);
      // Assess
      if (read !== undefined) expect(read).toEqual(jsYaml(text));
      expect(isWrittenPlain(manifest) ? read : undefined).toEqual(isWrittenPlain(manifest) ? manifest : undefined);
    }
  });

  it.each([
    ['a comment', 'a: b\n# note\n'],
    ['a quoted string', "a: 'b'\n"],
    ['a list', 'a:\n  - b\n'],
    ['a duplicate key', 'a: b\na: c\n'],
    ['a key without a value', 'a:\nb: c\n'],
    ['a key without a value at the end', 'a: b\nc:\n'],
    ['a tab', 'a:\n\tb: c\n'],
    ['a line too deep', 'a: b\n    c: d\n'],
    ['an odd indent', 'a:\n   b: c\n'],
    ['CRLF line ends', 'a: b\r\n'],
    ['no newline at the end', 'a: b'],
    ['a number', 'a: 10\n'],
    ['a boolean', 'a: true\n'],
    ['null', 'a: null\n'],
    ['a document marker', '---\na: b\n'],
    ['a flow map', 'a: {b: c}\n'],
    ['a space before the colon', 'a : b\n'],
    ['an empty text', ''],
  ])('leaves %s to js-yaml', (_what, text) => {
    expect(readPlainYaml(text)).toBeUndefined();
  });

  it('agrees with js-yaml on 20,000 random small documents whenever it reads one', () => {
    // Prepare: lines of random keys, values and indents from a fixed pseudo-random sequence
    const next = pseudoRandom(7);
    const pick = (xs: readonly string[]) => xs[next() % xs.length]!;
    const words = ['a', 'b', 'x.y/z', 'v1', '10', 'true', 'k:v', 'a-b_c', '{}', "'q'", '#c', '~', 'e+1', ''];
    let read = 0;
    for (let i = 0; i < 20_000; i++) {
      const lines = Array.from(
        { length: 1 + (next() % 5) },
        () => `${pick(['', '  ', '    '])}${pick(words)}:${pick(['', ' ', ' {}', ` ${pick(words)}`])}\n`,
      );
      const text = lines.join('');
      let expected: unknown;
      try {
        expected = jsYaml(text);
      } catch {
        expected = 'js-yaml refuses it';
      }
      // Act
      const got = readPlainYaml(text);
      // Assess
      if (got !== undefined) {
        read++;
        expect(got, JSON.stringify(text)).toEqual(expected);
      }
    }
    expect(read).toBeGreaterThan(200);
  });
});
