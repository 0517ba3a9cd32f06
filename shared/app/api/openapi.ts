import { z } from 'zod';
import type { Route } from './route.js';
import { problemSchema } from './schemas.js';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/**
 * The OpenAPI 3.1 document of a route table, generated from the same zod schemas the router validates with.
 * Kept in the repository as events/openapi.json (a unit test fails when it is stale) and served at /openapi.json.
 */
export function openApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters = Object.entries(route.params ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema: jsonSchema(schema, 'input') }));
    if (route.operationId === 'startRotation') {
      parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 } as Record<string, unknown> } as never);
    }
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const contentType = spec.contentType ?? 'application/json';
      responses[status] = { description: spec.description, ...(spec.schema ? { content: { [contentType]: { schema: jsonSchema(spec.schema, 'output') } } } : contentType !== 'application/json' ? { content: { [contentType]: { schema: { type: 'string' } } } } : {}) };
    }
    for (const status of ['400', '413', '500']) {
      responses[status] ??= { description: status === '413' ? 'body over the limit' : status === '400' ? 'malformed request' : 'unexpected error', content: { 'application/problem+json': { schema: jsonSchema(problemSchema, 'output') } } };
    }
    (paths[route.path] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.scope ? { security: [{ bearer: [route.scope] }], 'x-required-scope': route.scope } : { security: [] }),
      ...(parameters.length && { parameters }),
      ...(route.body && { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'rekey API', version, description: 'Rotations, items, plan, metrics and alert-driven remediation. Errors are RFC 9457 problem documents.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (ES256 or EdDSA), scopes in the "scope" claim' } } },
    security: [],
    paths,
  };
}
