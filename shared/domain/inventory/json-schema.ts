import { z } from 'zod';
import { inventorySchema } from './schema.js';

/** The published JSON Schema of the inventory (schema/inventory.schema.json), generated from the zod definition. */
export function inventoryJsonSchema(): unknown {
  return {
    ...z.toJSONSchema(inventorySchema, { io: 'input' }),
    title: 'rekey inventory',
  };
}
