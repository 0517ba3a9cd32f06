/**
 * The inventory the functions were packaged with, validated at package time: `serverless package` replaces this
 * module (functions/esbuild-plugins.cjs, with `inventoryModuleSource` of inventory-module.ts). Unpackaged (tests,
 * local runs) there is none, and the file is read and validated as the CLI does.
 */
export interface PackagedInventory {
  /** sha256 of the inventory file's text: the embedded copy is used only for that very file. */
  readonly sha256: string;
  /** The validated inventory, serialized (shared/domain/inventory/serialized.ts). */
  readonly json: string;
}

export const packagedInventory: PackagedInventory | undefined = undefined;
