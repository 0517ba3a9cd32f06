import { z } from 'zod';
import { LIMITS } from './limits.js';
import { inventorySchema } from './schema.js';

/** The published JSON Schema of the inventory (schema/inventory.schema.json), generated from the zod definition. */
export function inventoryJsonSchema(): unknown {
  return {
    ...z.toJSONSchema(inventorySchema(), { io: 'input' }),
    title: 'rekey inventory',
    description:
      `rekey's inventory (apiVersion rekey/v1). Beyond this schema the loader refuses files over ${LIMITS.inventoryBytes} bytes, ` +
      `YAML aliases that expand the document by more than ${LIMITS.aliasExpansion} values, merge keys (<<), ` +
      `more than ${LIMITS.sansPerCertificate} subject alternative names per certificate and versions over ${LIMITS.storeEntryBytes} bytes.`,
  };
}
