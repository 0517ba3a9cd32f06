/**
 * Standard base64 (RFC 4648 section 4), padded or not, decoded only if it is exactly that: Buffer.from(s, 'base64')
 * skips any character it does not know, so `k3y!!…` would decode to some other key instead of being refused.
 * Returns undefined for anything else (junk characters, bad padding, non-zero trailing bits).
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (text.length !== unpadded.length && text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(unpadded, 'base64');
  // Canonical form only: the re-encoding must give back the same characters.
  return bytes.toString('base64').replace(/=+$/, '') === unpadded ? bytes : undefined;
}
