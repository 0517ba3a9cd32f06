import forge from 'node-forge';
import { extension } from './extension.js';

export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;
export type KeyUsageName = keyof typeof KeyUsageBit;

/** keyUsage, critical: a named BIT STRING with trailing zero bits dropped, as DER requires. */
export function keyUsage(usages: readonly KeyUsageName[]) {
  let bits = 0;
  for (const u of usages) bits |= 0x80 >> KeyUsageBit[u];
  let unused = 0;
  while (unused < 8 && bits !== 0 && ((bits >> unused) & 1) === 0) unused++;
  const value = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.BITSTRING, false, String.fromCharCode(unused, bits));
  return extension('2.5.29.15', true, value);
}
