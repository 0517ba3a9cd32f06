import { X509Certificate } from 'node:crypto';
import type { ObservedSecret } from '../sync/secret.js';
import type { Unit } from '../units.js';
import type { CertificateMaterial } from '../store/material.js';
import { pemBlocks, derToPem } from './pem.js';
import { keyTypeOf, privateKeyFromPem, privateKeyToPem } from './keys.js';
import { leafFitProblems } from './check.js';
import { certificateDue } from '../plan/due.js';
import { defined } from '../defined.js';

/**
 * Material taken over from an existing TLS Secret (seed 000: keep `pgo.tls` if present), or the reason it cannot
 * be: missing fields, a key that does not match, expired or due for renewal, a key type rekey does not issue, or
 * names and usages other than the inventory's.
 */
export function adoptableMaterial(unit: Unit, secret: ObservedSecret, now: Date, specHash: string): CertificateMaterial | string {
  const item = unit.item;
  if (item.kind !== 'certificate') return 'only certificates can be adopted';
  const certText = secret.data['tls.crt'];
  const keyText = secret.data['tls.key'];
  if (!certText || !keyText) return 'Secret has no tls.crt and tls.key';
  const blocks = pemBlocks(certText);
  if (!blocks.length) return 'tls.crt holds no certificate';
  let leaf: X509Certificate;
  let key;
  try {
    leaf = new X509Certificate(defined(blocks[0]));
    key = privateKeyFromPem(keyText);
  } catch {
    return 'tls.crt or tls.key does not parse';
  }
  if (!leaf.checkPrivateKey(key)) return 'tls.key does not match tls.crt';
  const keyType = keyTypeOf(key);
  if (!keyType) return 'key type is not one rekey issues';
  const notAfter = new Date(leaf.validTo);
  if (certificateDue(item, notAfter, now)) return `certificate expires ${notAfter.toISOString()}, within renewBefore`;
  // A certificate made for another host or purpose is not kept, however valid.
  const unfit = leafFitProblems(unit, leaf, { ekuOptional: true, caAllowed: true });
  if (unfit.length) return `certificate does not fit the inventory: ${unfit.join('; ')}`;
  const leafPem = derToPem(defined(blocks[0]), 'CERTIFICATE');
  return {
    type: 'certificate',
    cert: leafPem,
    key: privateKeyToPem(key),
    chain: blocks
      .slice(1)
      .map((d) => derToPem(d, 'CERTIFICATE'))
      .join(''),
    ca: secret.data['ca.crt'] ?? leafPem,
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    serial: leaf.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    fingerprint: leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
    keyType,
    specHash,
    adopted: true,
  };
}
