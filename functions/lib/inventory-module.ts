import { loadInventory } from '../../shared/domain/inventory/load.js';
import { inventoryFileDigest, serializeInventory } from '../../shared/domain/inventory/serialized.js';
import type { PackagedInventory } from './packaged-inventory.js';

/**
 * The source of `packaged-inventory.ts` for a bundle (run at package time by functions/esbuild-plugins.cjs): the
 * inventory file validated as the CLI validates it (an invalid one fails the packaging, naming every problem), and
 * embedded as JSON with the digest of the file's text.
 */
export function inventoryModuleSource(text: string, file: string): string {
  const packaged: PackagedInventory = { sha256: inventoryFileDigest(text), json: serializeInventory(loadInventory(text, file)) };
  return `export const packagedInventory = ${JSON.stringify(packaged)};\n`;
}
