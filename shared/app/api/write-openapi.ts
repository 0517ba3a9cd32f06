import { writeFileSync } from 'node:fs';
import { openApiDocument } from './openapi.js';
import { ROUTES } from './routes.js';
import { REKEY_VERSION } from './version.js';

/** The document kept in the repository (events/openapi.json), regenerated with `npm run openapi`. */
export const openApiText = (): string => JSON.stringify(openApiDocument(ROUTES, REKEY_VERSION), null, 2) + '\n';

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../../../events/openapi.json', import.meta.url), openApiText());
}
