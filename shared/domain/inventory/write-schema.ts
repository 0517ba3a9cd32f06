import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { inventorySchema } from './schema.js';

/** Regenerates schema/inventory.schema.json from the zod definition (`npm run schema`). */
export function inventoryJsonSchema(): unknown {
  return {
    ...z.toJSONSchema(inventorySchema, { io: 'input' }),
    title: 'rekey inventory',
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../../../schema/inventory.schema.json', import.meta.url), JSON.stringify(inventoryJsonSchema(), null, 2) + '\n');
}
