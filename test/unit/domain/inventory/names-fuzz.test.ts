import { BlockList, isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { canonicalIp, dnsNameProblem, uriProblem } from '../../../../shared/domain/inventory/names.js';

/**
 * Fuzz tests of the name validators: seeded (mulberry32), so a failure names the seed and the input that
 * broke it. IP addresses are checked against Node's own parser (differential), DNS names against the rules
 * restated independently here.
 */

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

const ROUNDS = 10_000;
const pick = <T>(next: () => number, xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
const int = (next: () => number, n: number) => Math.floor(next() * n);

/** A random string over `alphabet`, up to `max` characters. */
const noise = (next: () => number, alphabet: string, max: number) =>
  Array.from({ length: int(next, max + 1) }, () => pick(next, [...alphabet])).join('');

/** A valid IPv6 address in a random one of its textual forms (compressed or not, upper/lower case, IPv4 tail). */
function validIpv6(next: () => number): string {
  const groups = Array.from({ length: 8 }, () => (next() < 0.4 ? 0 : int(next, 0x10000)));
  const v4Tail = next() < 0.3;
  let parts = groups.map((g) => g.toString(16)).map((h) => (next() < 0.2 ? h.toUpperCase() : next() < 0.2 ? h.padStart(4, '0') : h));
  if (v4Tail) parts = [...parts.slice(0, 6), `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`];
  const last = v4Tail ? 6 : 8;
  // Compress one random run of zero groups, if there is one.
  const starts = [...Array(last).keys()].filter((i) => groups[i] === 0);
  if (starts.length && next() < 0.7) {
    const start = pick(next, starts);
    let end = start;
    while (end + 1 < last && groups[end + 1] === 0 && next() < 0.8) end++;
    return `${parts.slice(0, start).join(':')}::${parts.slice(end + 1).join(':')}`;
  }
  return parts.join(':');
}

const sameAddress = (a: string, b: string) => {
  const list = new BlockList();
  list.addAddress(a, 'ipv6');
  return list.check(b, 'ipv6');
};

describe("IP address validator against Node's parser", () => {
  it('accepts every valid IPv6 form, and its canonical form is the same address and a fixed point', () => {
    const next = random(0x1b6);
    const failures: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Prepare
      const text = validIpv6(next);
      // Act
      const canonical = canonicalIp(text);
      // Assess
      const ok =
        isIP(text) === 6 &&
        canonical !== undefined &&
        canonicalIp(canonical) === canonical &&
        sameAddress(text, canonical) &&
        !canonical.includes('.');
      if (!ok) failures.push(`round ${i}: ${text} -> ${canonical}`);
    }
    expect(failures).toEqual([]);
  });

  it('on random strings agrees with Node, except that zone ids are refused', () => {
    const next = random(0x1b4);
    let accepted = 0;
    const disagreements: string[] = [];
    for (let i = 0; i < ROUNDS * 5; i++) {
      // Prepare: mostly address-like noise, some of it near-valid
      const text =
        next() < 0.5
          ? noise(next, '0123456789abcdefABCDEF:.', 24)
          : validIpv6(next).replace(/./g, (c) => (next() < 0.05 ? pick(next, [...':.0f%/ ']) : c));
      // Act
      const mine = canonicalIp(text) !== undefined;
      // Assess (collected: one expect per round would cost more than the validator)
      const node = isIP(text) !== 0 && !text.includes('%');
      if (mine !== node) disagreements.push(`round ${i}: ${JSON.stringify(text)} rekey ${mine}, node ${node}`);
      if (mine) accepted++;
    }
    expect(disagreements).toEqual([]);
    expect(accepted).toBeGreaterThan(1000);
  });

  it('agrees with Node on random dotted quads (no leading zeros, each part at most 255)', () => {
    const next = random(0x4);
    const disagreements: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const text = Array.from({ length: 3 + int(next, 3) }, () =>
        String(int(next, next() < 0.8 ? 256 : 1000)).padStart(next() < 0.1 ? 3 : 0, '0'),
      ).join('.');
      if ((canonicalIp(text) !== undefined) !== (isIP(text) === 4)) disagreements.push(text);
    }
    expect(disagreements).toEqual([]);
  });
});

/** The DNS rules, restated independently of the implementation. */
function obeysDnsRules(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (/^\d+$/.test(labels[labels.length - 1]!)) return false;
  return labels.every((l, i) =>
    l === '*' ? i === 0 && labels.length >= 3 : l.length <= 63 && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(l),
  );
}

describe('DNS name validator', () => {
  it('accepts exactly the names that obey the rules, on random strings near the boundaries', () => {
    const next = random(0xd45);
    let accepted = 0;
    const disagreements: string[] = [];
    for (let i = 0; i < ROUNDS * 5; i++) {
      // Prepare: labels of random lengths around 63, random separators, wildcards and junk
      const labels = Array.from({ length: 1 + int(next, 6) }, () =>
        next() < 0.1 ? '*' : noise(next, next() < 0.9 ? 'abcxyz0129-' : 'a-_.*Ü \u0000', next() < 0.1 ? 70 : 12),
      );
      const text = labels.join('.');
      // Act
      const problem = dnsNameProblem(text);
      // Assess
      if ((problem === undefined) !== obeysDnsRules(text))
        disagreements.push(`round ${i}: ${JSON.stringify(text)} ${problem ?? 'accepted'}`);
      if (problem === undefined) accepted++;
      else if (/[\u0000-\u001f]/.test(problem)) disagreements.push(`round ${i}: raw control character in ${JSON.stringify(problem)}`);
    }
    expect(disagreements).toEqual([]);
    expect(accepted).toBeGreaterThan(1000);
  });

  it('never throws, whatever the text (random Unicode)', () => {
    const next = random(0xface);
    const thrown: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const text = Array.from({ length: int(next, 40) }, () => String.fromCharCode(int(next, 0x3000))).join('');
      try {
        dnsNameProblem(text);
        canonicalIp(text);
        uriProblem(text);
      } catch (e) {
        thrown.push(`${JSON.stringify(text)}: ${String(e)}`);
      }
    }
    expect(thrown).toEqual([]);
  });
});
