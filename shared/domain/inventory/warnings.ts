import type { InventoryIssue } from '../errors.js';
import type { Inventory, Item } from './model.js';

/** A warning about an item of the inventory, with its field path. */
export interface InventoryWarning extends InventoryIssue {
  readonly item: string;
}

/** Items whose `files` hold a private key or secret: a certificate's key file, a credential's files. */
const writesSecretFiles = (item: Item): boolean => item.kind !== 'authority';

/**
 * What is valid but probably unwise, each with its field path: `validate` prints these to stderr (exit 0) and
 * `plan` lists them with its own warnings.
 */
export function inventoryWarnings(inv: Inventory): InventoryWarning[] {
  const warnings: InventoryWarning[] = [];
  for (const item of [...inv.authorities, ...inv.certificates, ...inv.credentials]) {
    const files = item.files;
    if (!files || !writesSecretFiles(item)) continue;
    if ((files.mode & 0o044) !== 0) {
      const who = [(files.mode & 0o040) !== 0 && 'group', (files.mode & 0o004) !== 0 && 'other'].filter(Boolean).join(' and ');
      warnings.push({
        item: item.name,
        path: `${item.path}.files.mode`,
        message: `0${files.mode.toString(8)} lets ${who} read the private key file${files.key ? ` ${files.key}` : ''}: prefer "0600"`,
      });
    }
  }
  return warnings;
}
