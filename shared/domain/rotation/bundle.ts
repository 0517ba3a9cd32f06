import { createHash, X509Certificate } from 'node:crypto';
import { derToPem, pemBlocks } from '../pki/pem.js';

/**
 * A trust bundle during a CA's overlap: every distinct certificate of `pems`, oldest first (by notBefore, then
 * fingerprint). The order does not depend on which side of the promotion the bundle was computed on, so the old +
 * new bundle published before promotion is byte-identical to the new + old one after it, in every cluster.
 */
export function canonicalBundle(pems: readonly string[]): string {
  const byFingerprint = new Map<string, X509Certificate>();
  for (const pem of pems) {
    for (const der of pemBlocks(pem)) {
      const cert = new X509Certificate(der);
      byFingerprint.set(cert.fingerprint256, cert);
    }
  }
  return [...byFingerprint.values()]
    .sort((a, b) => Date.parse(a.validFrom) - Date.parse(b.validFrom) || a.fingerprint256.localeCompare(b.fingerprint256))
    .map((c) => derToPem(c.raw, 'CERTIFICATE'))
    .join('');
}

/** How many certificates a PEM text holds. */
export const certificateCount = (pem: string): number => pemBlocks(pem).length;

/** SHA-256 (hex) of a bundle's text, as the `rekey/bundle-hash` annotation carries it. */
export const bundleHash = (bundle: string): string => createHash('sha256').update(bundle).digest('hex');
