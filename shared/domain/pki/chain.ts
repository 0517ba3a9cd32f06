import { X509Certificate } from 'node:crypto';
import { pemBlocks } from './pem.js';

/** Paths longer than this are not followed (rekey's own are at most root -> a few intermediates -> leaf). */
const MAX_DEPTH = 10;

const issuedBy = (child: X509Certificate, parent: X509Certificate): boolean => child.checkIssued(parent) && child.verify(parent.publicKey);

/** Every certificate of a PEM text, parsed, in order. */
export const certificatesOf = (pem: string): X509Certificate[] => pemBlocks(pem).map((der) => new X509Certificate(der));

/** SHA-256 fingerprint of a certificate as rekey stores it: lowercase hex of the DER, no separators. */
export const fingerprintOf = (cert: X509Certificate): string => cert.fingerprint256.replace(/:/g, '').toLowerCase();

/**
 * The anchor that `path[0]` chains to: walks from the first certificate through the others in `path` (in any
 * order, as servers send them), checking each signature, until one of `anchors` signed the certificate reached,
 * or that certificate is an anchor itself. Undefined when no anchor is reached.
 */
export function anchorOf(path: readonly X509Certificate[], anchors: readonly X509Certificate[]): X509Certificate | undefined {
  let cur = path[0];
  for (let depth = 0; cur && depth < MAX_DEPTH; depth++) {
    const current: X509Certificate = cur;
    const same = anchors.find((a) => a.raw.equals(current.raw));
    if (same) return same;
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) return anchor;
    cur = path.find((c) => c !== current && !c.raw.equals(current.raw) && issuedBy(current, c));
  }
  return undefined;
}

/**
 * The root above a certificate and its intermediates (`certsPem`, leaf first), taken from a trust bundle (which
 * may hold an old and a new CA during a CA rotation: the one whose signature checks is taken). Undefined when the
 * bundle holds none.
 */
export function rootAbove(certsPem: string, bundlePem: string): string | undefined {
  const path = certificatesOf(certsPem);
  const roots = certificatesOf(bundlePem);
  const root = anchorOf(path, roots);
  return root && !path.some((c) => c.raw.equals(root.raw)) ? root.toString() : undefined;
}
