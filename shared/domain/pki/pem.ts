import { X509Certificate } from 'node:crypto';
import { defined } from '../defined.js';

/** PEM text of a DER object (64-column base64 lines). Kept apart from der.ts, which loads node-forge. */
export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Every PEM block of a label in a text, as DER. */
export function pemBlocks(text: string, label = 'CERTIFICATE'): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(defined(m[1]).replace(/\s+/g, ''), 'base64'));
}

/** The certificates of a PEM text in order, each as PEM (a chain as CAs return it). */
export function splitPemChain(text: string): string[] {
  return pemBlocks(text).map((der) => derToPem(der, 'CERTIFICATE'));
}

/** Whether the certificate is self-signed (a root), judged by its own signature. */
export function isSelfSigned(pem: string): boolean {
  const cert = new X509Certificate(pem);
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}
