import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../shared/domain/duration.js';

const H = 3_600_000;
const M = 60_000;
const S = 1000;

/** A tiny deterministic generator (mulberry32), so a failing fuzz case can be replayed. */
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

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['-0', 0],
    ['90s', 90 * S],
    ['30m', 30 * M],
    ['2160h', 2160 * H],
    ['1h30m', H + 30 * M],
    ['1h30m15s', H + 30 * M + 15 * S],
    ['1h1h', 2 * H],
    ['500ms', 500],
    ['1.5h', 1.5 * H],
    ['.5h', 0.5 * H],
    ['1.h', H],
    ['1.5h.5m', 1.5 * H + 30 * S],
    ['+1h', H],
    ['-1h', -H],
    ['-1m30s', -(M + 30 * S)],
    ['1500us', 2],
    ['1500µs', 2],
    ['1500μs', 2],
    ['2000000ns', 2],
    ['1ns', 0],
    ['2562047h', 2562047 * H],
  ])('%s is %d ms', (text, ms) => {
    // Act
    const parsed = parseDuration(text);
    // Assess
    expect(parsed).toBe(ms);
  });

  it.each([
    ['', 'empty'],
    ['h', 'unit without number'],
    ['.h', 'dot without digits'],
    ['1', 'number without unit'],
    ['10', 'number without unit (only a bare 0 may omit it)'],
    ['90d', 'days are not a Go unit'],
    ['1w', 'weeks are not a Go unit'],
    ['1H', 'units are case-sensitive'],
    ['1 h', 'space inside'],
    [' 1h', 'leading space'],
    ['1h ', 'trailing space'],
    ['1e3s', 'exponent'],
    ['0x10s', 'hex'],
    ['1h-30m', 'sign inside'],
    ['--1h', 'double sign'],
    ['1.5.5h', 'two dots'],
    ['1,5h', 'comma'],
    ['1hh', 'unit twice'],
    ['１h', 'non-ASCII digit'],
    ['2562048h', "beyond Go's range (int64 nanoseconds, about 292 years)"],
    ['9'.repeat(400) + 'h', 'a number that overflows to Infinity'],
  ])('%j is not a duration (%s)', (text) => {
    // Act
    const parsed = parseDuration(text);
    // Assess
    expect(parsed).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1, '0.001s'],
    [1500, '1.5s'],
    [90 * S, '1m30s'],
    [H, '1h'],
    [720 * H, '720h'],
    [25 * H + M + 1001, '25h1m1.001s'],
    [-5 * S, '-5s'],
  ])('%d ms is %s', (ms, text) => {
    // Act
    const formatted = formatDuration(ms);
    // Assess
    expect(formatted).toBe(text);
  });
});

describe('duration fuzz', () => {
  it('never throws on random text and returns either undefined or a finite whole number of ms', () => {
    // Prepare: random strings over an alphabet rich in duration characters, plus random unicode
    const next = random(0xd0a7);
    const alphabet = ['0', '1', '5', '9', '.', '-', '+', 'h', 'm', 's', 'n', 'u', 'µ', 'μ', ' ', 'd', 'e', '\u0000', '\u{1F600}'];
    const inputs: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(next() * 12);
      let s = '';
      for (let j = 0; j < len; j++)
        s += next() < 0.9 ? alphabet[Math.floor(next() * alphabet.length)] : String.fromCodePoint(Math.floor(next() * 0x10ffff) & 0xd7ff);
      inputs.push(s);
    }
    // Act
    const results = inputs.map((s) => parseDuration(s));
    // Assess
    for (const r of results) {
      if (r === undefined) continue;
      expect(Number.isInteger(r)).toBe(true);
    }
    expect(results.some((r) => r !== undefined)).toBe(true);
  });

  it('formats any whole number of ms (within Go range) to text that parses back to the same value', () => {
    // Prepare: magnitudes from milliseconds to centuries, both signs
    const next = random(0x5eed);
    const values = [0, 1, 999, 1000, 59_999, 60_000, H - 1, H, 100 * 365 * 24 * H];
    for (let i = 0; i < 3000; i++) {
      const magnitude = 10 ** Math.floor(next() * 13);
      values.push(Math.floor(next() * magnitude) * (next() < 0.2 ? -1 : 1) || 0); // no -0: that is not a duration
    }
    // Act + Assess
    for (const ms of values) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
