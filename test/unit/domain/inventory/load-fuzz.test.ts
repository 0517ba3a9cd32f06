import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../../../shared/domain/errors.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';

/** Deterministic generator (mulberry32): a failing case can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seedText = readFileSync(new URL('../../../../examples/apiconnect.yaml', import.meta.url), 'utf8');
const TOKENS = [
  ' ',
  '\n',
  ':',
  '-',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '#',
  '&a',
  '*a',
  '!!str',
  '!!binary',
  '0',
  '99999999999h',
  '-1h',
  'null',
  '~',
  'true',
  '\t',
  '|',
  '>',
  '?',
  '%',
  '@',
  '`',
  '\u0000',
  '\uFEFF',
];

/** One random edit: delete, insert, duplicate or swap lines, replace a value. */
function mutate(text: string, next: () => number): string {
  const lines = text.split('\n');
  const i = Math.floor(next() * lines.length);
  const j = Math.floor(next() * lines.length);
  switch (Math.floor(next() * 6)) {
    case 0:
      lines.splice(i, 1);
      return lines.join('\n');
    case 1:
      lines.splice(i, 0, lines[j]!);
      return lines.join('\n');
    case 2:
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    case 3: {
      const at = Math.floor(next() * text.length);
      return text.slice(0, at) + TOKENS[Math.floor(next() * TOKENS.length)] + text.slice(at);
    }
    case 4: {
      const at = Math.floor(next() * text.length);
      return text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 5));
    }
    default:
      lines[i] = lines[i]!.replace(/: .*$/, `: ${TOKENS[Math.floor(next() * TOKENS.length)]}`);
      return lines.join('\n');
  }
}

describe('loadInventory fuzz', () => {
  it('on randomly damaged inventories either loads or throws InvalidInventoryError with paths, never anything else', () => {
    // Prepare
    const next = random(20261122);
    let rejected = 0;
    // Act + Assess
    for (let round = 0; round < 150; round++) {
      let text = seedText;
      const edits = 1 + Math.floor(next() * 4);
      for (let e = 0; e < edits; e++) text = mutate(text, next);
      try {
        const inv = loadInventory(text, 'fuzz.yaml');
        expect(inv.items.size).toBeGreaterThanOrEqual(0);
      } catch (e) {
        if (!(e instanceof InvalidInventoryError)) throw new Error(`round ${round}: ${String(e)}\n--- input ---\n${text}`, { cause: e });
        expect(e.issues.length).toBeGreaterThan(0);
        for (const issue of e.issues) expect(typeof issue.message).toBe('string');
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(40);
  });

  it('on random bytes throws only InvalidInventoryError', () => {
    // Prepare
    const next = random(7);
    // Act + Assess
    for (let round = 0; round < 300; round++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(next() * 200) }, () => Math.floor(next() * 256)));
      const text = bytes.toString(next() < 0.5 ? 'latin1' : 'utf8');
      try {
        loadInventory(text);
      } catch (e) {
        expect(e, text).toBeInstanceOf(InvalidInventoryError);
      }
    }
  });
});
