import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Strict } from '../../../../shared/adapters/local/strict-base64.js';

/** The rule spelled out as regular expressions (the earlier implementation): what the round trip must agree with. */
function byRegex(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (text.length !== unpadded.length && text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(unpadded, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === unpadded ? bytes : undefined;
}

describe('decodeBase64Strict', () => {
  it.each([
    ['', ''],
    ['QQ==', '41'],
    ['QQ', '41'],
    ['QUI=', '4142'],
    ['QUI', '4142'],
    ['QUJD', '414243'],
    ['+/+/', 'fbffbf'],
  ])('decodes %j', (text, hex) => {
    expect(decodeBase64Strict(text)?.toString('hex')).toBe(hex);
  });

  it.each([
    ['a junk character', 'QUJ!D'],
    ['whitespace', 'QUJD\n'],
    ['the URL-safe alphabet', '-_-_'],
    ['padding inside', 'QQ==QQ=='],
    ['three padding characters', 'QQ==='],
    ['four padding characters after a full group', 'QUJD===='],
    ['padding short of a full group', 'QQ='],
    ['a lone character in the last group', 'QUJDQ'],
    ['non-zero trailing bits', 'QR=='],
    ['a non-ASCII character', 'QUJDé'],
  ])('refuses %s', (_what, text) => {
    expect(decodeBase64Strict(text)).toBeUndefined();
  });

  it('agrees with the rule spelled out as regular expressions on 20,000 near-base64 strings', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_! \n';
    for (let i = 0; i < 20_000; i++) {
      const valid = randomBytes(i % 13).toString('base64');
      const noise = randomBytes(3);
      // Mostly valid text, damaged at one place in about half of the cases
      const chars = [...(noise[0]! % 4 === 0 ? valid.replace(/=+$/, '') : valid)];
      if (noise[1]! % 2 === 0 && chars.length) chars[noise[2]! % chars.length] = alphabet[noise[1]! % alphabet.length]!;
      const text = chars.join('');
      expect(decodeBase64Strict(text)?.toString('hex'), JSON.stringify(text)).toBe(byRegex(text)?.toString('hex'));
    }
  });
});
