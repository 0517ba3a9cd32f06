import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { Route } from './route.js';
import { problemSchema } from './schemas.js';

const DEFS = '#/$defs/';
const COMPONENTS = '#/components/schemas/';

/**
 * Named schemas (zod `meta({ id })`) go to `components.schemas`, and references to them are rewritten there: zod
 * emits `#/$defs/X` beside each schema, which inside an OpenAPI document points at the document root and resolves
 * to nothing (schemathesis reported every such reference as unresolvable). An id whose input and output shapes
 * differ keeps the first shape seen under its name and the other as `<id>Input` or `<id>Output`.
 */
class Components {
  readonly schemas: Record<string, unknown> = {};

  private rewrite(value: unknown, rename: ReadonlyMap<string, string>): unknown {
    if (Array.isArray(value)) return value.map((v) => this.rewrite(v, rename));
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(DEFS)) {
        const id = v.slice(DEFS.length);
        out[k] = `${COMPONENTS}${rename.get(id) ?? id}`;
      } else out[k] = this.rewrite(v, rename);
    }
    return out;
  }

  schema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
    const {
      $schema: _s,
      $defs,
      ...rest
    } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
    const defs = ($defs ?? {}) as Record<string, unknown>;
    const rename = new Map<string, string>();
    for (const [id, def] of Object.entries(defs)) {
      const held = this.schemas[id];
      if (held !== undefined && !isDeepStrictEqual(held, this.rewrite(def, new Map())))
        rename.set(id, `${id}${io === 'input' ? 'Input' : 'Output'}`);
    }
    for (const [id, def] of Object.entries(defs)) this.schemas[rename.get(id) ?? id] = this.rewrite(def, rename);
    return this.rewrite(rest, rename) as Record<string, unknown>;
  }
}

/**
 * The OpenAPI 3.1 document of a route table, generated from the same zod schemas the router validates with.
 * Kept in the repository as events/openapi.json (a unit test fails when it is stale) and served at /openapi.json.
 */
export function openApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const components = new Components();
  const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => components.schema(schema, io);
  for (const route of routes) {
    const parameters = Object.entries(route.params ?? {}).map(([name, schema]) => ({
      name,
      in: 'path',
      required: true,
      schema: jsonSchema(schema, 'input'),
    }));
    if (route.operationId === 'startRotation') {
      parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 } });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const contentType = spec.contentType ?? 'application/json';
      responses[status] = {
        description: spec.description,
        ...(spec.schema
          ? { content: { [contentType]: { schema: jsonSchema(spec.schema, 'output') } } }
          : contentType !== 'application/json'
            ? { content: { [contentType]: { schema: { type: 'string' } } } }
            : {}),
      };
    }
    // What the router itself answers for any route of this shape, documented whether or not the route lists it.
    const common: Record<string, string> = {
      400: 'malformed request',
      413: 'body over the limit',
      429: 'rate limited',
      500: 'unexpected error',
      504: 'the request took too long',
    };
    if (route.scope || route.authenticate) Object.assign(common, { 401: 'missing or invalid token', 403: 'the token lacks the scope' });
    if (route.body) Object.assign(common, { 415: 'the body is not application/json', 422: 'the body does not match the schema' });
    for (const [status, description] of Object.entries(common)) {
      responses[status] ??= { description, content: { 'application/problem+json': { schema: jsonSchema(problemSchema, 'output') } } };
    }
    (paths[route.path] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.scope
        ? { security: [{ bearer: [route.scope] }], 'x-required-scope': route.scope }
        : route.authenticate
          ? { security: [{ bearer: [] }] }
          : route.clientCertificate
            ? { security: [{ clientCertificate: [] }] }
            : { security: [] }),
      ...(parameters.length && { parameters }),
      ...(route.body && { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rekey API',
      version,
      description: 'Rotations, items, plan, metrics and alert-driven remediation. Errors are RFC 9457 problem documents.',
    },
    components: {
      schemas: components.schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (ES256 or EdDSA), scopes in the "scope" claim' },
        clientCertificate: {
          type: 'mutualTLS',
          description: 'a certificate issued under the enrolment profile, still valid and not revoked',
        },
      },
    },
    security: [],
    paths,
  };
}
