import { bitString } from '../der-writer.js';
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

const encoded = new Map<number, Buffer>();

/** keyUsage, critical: a named BIT STRING with trailing zero bits dropped, as DER requires. Encoded once per set. */
export function keyUsage(usages: readonly KeyUsageName[]): Buffer {
  let bits = 0;
  for (const u of usages) bits |= 0x80 >> KeyUsageBit[u];
  let hit = encoded.get(bits);
  if (!hit) {
    let unused = 0;
    while (unused < 8 && bits !== 0 && ((bits >> unused) & 1) === 0) unused++;
    hit = extension('2.5.29.15', true, bitString(Buffer.from([bits]), unused));
    encoded.set(bits, hit);
  }
  return hit;
}
