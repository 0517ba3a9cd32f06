import type { Usage } from '../../inventory/schema.js';
import { objectId, sequence } from '../der-writer.js';
import { extension } from './extension.js';

export const EKU = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

export function ekuOids(usage: Usage): string[] {
  switch (usage) {
    case 'server':
      return [EKU.serverAuth];
    case 'client':
      return [EKU.clientAuth];
    case 'clientserver':
      return [EKU.serverAuth, EKU.clientAuth];
    default: {
      const never: never = usage;
      throw new Error(`unknown usage ${String(never)}`);
    }
  }
}

const encoded = new Map<Usage, Buffer>();

/** extendedKeyUsage, not critical (the common choice, as cert-manager and openssl do). Encoded once per usage. */
export function extKeyUsage(usage: Usage): Buffer {
  let hit = encoded.get(usage);
  if (!hit) {
    hit = extension('2.5.29.37', false, sequence(ekuOids(usage).map(objectId)));
    encoded.set(usage, hit);
  }
  return hit;
}
