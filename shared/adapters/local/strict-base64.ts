/**
 * Standard base64 (RFC 4648 section 4), padded or not, decoded only if it is exactly that: Buffer.from(s, 'base64')
 * skips any character it does not know, so `k3y!!…` would decode to some other key instead of being refused.
 * Returns undefined for anything else (junk characters, bad padding, non-zero trailing bits).
 *
 * The check is the round trip: whatever Buffer.from skipped or read loosely (junk, whitespace, the URL-safe
 * alphabet, `=` inside, trailing bits) does not come back from the re-encoding. A regex over the text before it cost
 * ten times the decoding (0.5 s of a renewal of 10,000 vault entries).
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const length = unpaddedLength(text);
  const padding = text.length - length;
  if (padding > 2 || (padding > 0 && text.length % 4 !== 0) || length % 4 === 1) return undefined;
  const unpadded = padding ? text.slice(0, length) : text;
  const bytes = Buffer.from(unpadded, 'base64');
  const again = bytes.toString('base64');
  // Canonical form only: the re-encoding must give back the same characters.
  return unpaddedLength(again) === length && again.startsWith(unpadded) ? bytes : undefined;
}

/** The length of `s` without the `=` at its end. */
function unpaddedLength(s: string): number {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  return end;
}
