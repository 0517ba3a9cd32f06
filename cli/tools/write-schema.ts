import { writeFileSync } from 'node:fs';
import { inventoryJsonSchema } from '../../shared/domain/inventory/json-schema.js';

/** Regenerates schema/inventory.schema.json from the zod definition (`npm run schema`); the domain only builds it. */
writeFileSync(new URL('../../schema/inventory.schema.json', import.meta.url), JSON.stringify(inventoryJsonSchema(), null, 2) + '\n');
