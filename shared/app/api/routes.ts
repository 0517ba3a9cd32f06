import { z } from 'zod';
import { plan } from '../plan.js';
import { itemDetail } from './items.js';
import { openApiDocument } from './openapi.js';
import { ApiProblem, ProblemKind } from './problem.js';
import { defineRoute, HttpMethod, type Route } from './route.js';
import { requestRotation } from './rotations.js';
import {
  healthSchema,
  itemDetailSchema,
  itemListSchema,
  itemName,
  logLevelSchema,
  planSchema,
  problemSchema,
  rotationAcceptedSchema,
  rotationId,
  rotationRequestSchema,
  rotationSchema,
  versionSchema,
} from './schemas.js';
import { Scope } from './scopes.js';
import { alertRoutes } from './alert-routes.js';
import { enrolRoutes } from './enrol-route.js';
import { defined } from '../../domain/defined.js';

const problem = (description: string) => ({ description, schema: problemSchema, contentType: 'application/problem+json' });
const authProblems = { 401: problem('missing or invalid token'), 403: problem('the token lacks the scope'), 429: problem('rate limited') };

/** The record as the API shows it (the journal's bookkeeping fields stay inside). */
function rotationView(r: import('../../domain/rotation/record.js').RotationRecord) {
  const { revision: _r, attempt: _a, previousVersions: _p, expiresAt: _e, restartDeadline: _d, ...view } = r;
  return view;
}

/** Every route of the API, open ones first. The same table serves `rekey serve`, Lambda and /openapi.json. */
export const ROUTES: readonly Route[] = [
  defineRoute({
    operationId: 'health',
    method: HttpMethod.Get,
    path: '/healthz',
    summary: 'The process is alive',
    responses: { 200: { description: 'alive', schema: healthSchema } },
    handle: async () => ({ status: 200, json: { status: 'ok' } }),
  }),
  defineRoute({
    operationId: 'ready',
    method: HttpMethod.Get,
    path: '/readyz',
    summary: 'The store and clusters answer',
    responses: { 200: { description: 'ready', schema: healthSchema }, 503: { description: 'not ready', schema: healthSchema } },
    handle: async ({ backend, signal }) => {
      const checks: Record<string, string> = {};
      let ok = true;
      for (const c of backend.readiness ?? []) {
        try {
          await c.check(signal);
          checks[c.name] = 'ok';
        } catch (e) {
          ok = false;
          checks[c.name] = e instanceof Error ? e.message.slice(0, 200) : 'failed';
        }
      }
      return { status: ok ? 200 : 503, json: { status: ok ? 'ok' : 'unavailable', checks } };
    },
  }),
  defineRoute({
    operationId: 'version',
    method: HttpMethod.Get,
    path: '/version',
    summary: 'rekey version, inventory and runtime',
    responses: { 200: { description: 'version', schema: versionSchema } },
    handle: async ({ backend }) => ({
      status: 200,
      json: { version: backend.version, inventory: backend.inventory.name, runtime: backend.runtime },
    }),
  }),
  defineRoute({
    operationId: 'openapi',
    method: HttpMethod.Get,
    path: '/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    responses: { 200: { description: 'the document' } },
    handle: async ({ backend }) => ({ status: 200, json: openApiDocument(ROUTES, backend.version) }),
  }),
  defineRoute({
    operationId: 'metrics',
    method: HttpMethod.Get,
    path: '/metrics',
    summary: 'Prometheus metrics',
    scope: Scope.MetricsRead,
    responses: { 200: { description: 'Prometheus text exposition', contentType: 'text/plain; version=0.0.4' }, ...authProblems },
    handle: async ({ backend }) => {
      if (!backend.metrics)
        throw new ApiProblem(ProblemKind.NotImplemented, 'this runtime keeps no Prometheus metrics (on AWS they are CloudWatch metrics)');
      const m = await backend.metrics();
      return { status: 200, text: m.text, contentType: m.contentType };
    },
  }),
  defineRoute({
    operationId: 'report',
    method: HttpMethod.Get,
    path: '/report',
    summary: 'The HTML report (PKI tree, expiry timeline, who uses what, last rotations, drift), as `rekey report` writes it',
    scope: Scope.ItemsRead,
    responses: {
      200: {
        description: 'one self-contained page (inline CSS and SVG, no script, nothing fetched)',
        contentType: 'text/html; charset=utf-8',
      },
      ...authProblems,
    },
    handle: async ({ backend }) => {
      // Loaded on first use: the report's renderer is not needed to start the API.
      const { gatherReport, renderReport } = await import('../report/index.js');
      const html = renderReport(await gatherReport(backend.deps, backend.inventory));
      // The page needs nothing but its own inline styles; a policy that allows only those keeps it inert.
      return {
        status: 200,
        text: html,
        contentType: 'text/html; charset=utf-8',
        headers: { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'" },
      };
    },
  }),
  defineRoute({
    operationId: 'getLogLevel',
    method: HttpMethod.Get,
    path: '/v1/log/level',
    summary: 'The current log level',
    scope: Scope.LogWrite,
    responses: { 200: { description: 'level', schema: logLevelSchema }, ...authProblems },
    handle: async ({ backend }) => ({ status: 200, json: { level: backend.logLevel.get() } }),
  }),
  defineRoute({
    operationId: 'setLogLevel',
    method: HttpMethod.Put,
    path: '/v1/log/level',
    summary: 'Changes the log level of the running process',
    scope: Scope.LogWrite,
    body: logLevelSchema,
    responses: { 200: { description: 'the new level', schema: logLevelSchema }, ...authProblems },
    handle: async ({ backend, body, principal }) => {
      const before = backend.logLevel.get();
      backend.logLevel.set(body.level);
      backend.deps.log.warn('log level changed', { from: before, to: body.level, by: principal?.subject });
      return { status: 200, json: { level: backend.logLevel.get() } };
    },
  }),
  defineRoute({
    operationId: 'startRotation',
    method: HttpMethod.Post,
    path: '/v1/rotations',
    summary: 'Starts a rotation of one item (Idempotency-Key honoured)',
    scope: Scope.RotationsWrite,
    body: rotationRequestSchema,
    responses: {
      202: { description: 'accepted: the rotation runs step by step', schema: rotationAcceptedSchema },
      404: problem('no such item'),
      409: problem('a rotation of the item is running'),
      422: problem('invalid body, or the Idempotency-Key was used for another item'),
      ...authProblems,
    },
    handle: async ({ backend, body, headers }) => {
      const { record, replayed } = await requestRotation(backend, body.item, body.reason, headers['idempotency-key']);
      const location = `/v1/rotations/${record.id}`;
      return {
        status: 202,
        headers: { location, ...(replayed && { 'idempotent-replayed': 'true' }) },
        json: { id: record.id, item: record.item, status: record.status, location },
      };
    },
  }),
  defineRoute({
    operationId: 'getRotation',
    method: HttpMethod.Get,
    path: '/v1/rotations/{id}',
    summary: 'One rotation: status, step, history',
    scope: Scope.ItemsRead,
    params: { id: rotationId },
    responses: { 200: { description: 'the rotation', schema: rotationSchema }, 404: problem('no such rotation'), ...authProblems },
    handle: async ({ backend, params }) => {
      const r = await backend.deps.journal.get(defined(params.id));
      if (!r || r.inventory !== backend.inventory.name) throw new ApiProblem(ProblemKind.NotFound, `no rotation ${params.id}`);
      return { status: 200, json: rotationView(r) };
    },
  }),
  defineRoute({
    operationId: 'listItems',
    method: HttpMethod.Get,
    path: '/v1/items',
    summary: 'Every unit: current version, expiry, latest rotation',
    scope: Scope.ItemsRead,
    responses: { 200: { description: 'items', schema: itemListSchema }, ...authProblems },
    handle: async ({ backend }) => ({ status: 200, text: (await backend.itemSummaries.get()).body, contentType: 'application/json' }),
  }),
  defineRoute({
    operationId: 'getItem',
    method: HttpMethod.Get,
    path: '/v1/items/{name}',
    summary: 'One item: status, versions, targets, consumers',
    scope: Scope.ItemsRead,
    params: { name: itemName },
    responses: { 200: { description: 'the item', schema: itemDetailSchema }, 404: problem('no such item'), ...authProblems },
    handle: async ({ backend, params }) => ({ status: 200, json: await itemDetail(backend, defined(params.name)) }),
  }),
  defineRoute({
    operationId: 'rollbackItem',
    method: HttpMethod.Post,
    path: '/v1/items/{name}/rollback',
    summary: 'AWSPREVIOUS becomes current again; resync; restart consumers',
    scope: Scope.RotationsWrite,
    params: { name: itemName },
    body: z
      .strictObject({ reason: z.string().min(1).max(500).default('rollback requested through the API') })
      .meta({ id: 'RollbackRequest' }),
    responses: {
      200: { description: 'rolled back' },
      404: problem('no such item'),
      409: problem('rollback refused (e.g. the old CA already left the bundles)'),
      501: problem('no rollback use case in this runtime'),
      ...authProblems,
    },
    handle: async ({ backend, params, body }) => {
      if (!backend.inventory.items.has(defined(params.name)))
        throw new ApiProblem(ProblemKind.NotFound, `no authority, certificate or credential named "${params.name}"`);
      if (!backend.rollback)
        throw new ApiProblem(ProblemKind.NotImplemented, 'rollback is not available in this build yet (no rollback use case)');
      return { status: 200, json: await backend.rollback(defined(params.name), body.reason) };
    },
  }),
  defineRoute({
    operationId: 'plan',
    method: HttpMethod.Get,
    path: '/v1/plan',
    summary: 'What apply would do; changes nothing',
    scope: Scope.ItemsRead,
    responses: { 200: { description: 'the plan', schema: planSchema }, ...authProblems },
    handle: async ({ backend }) => ({ status: 200, json: await plan(backend.deps, backend.inventory) }),
  }),
  ...alertRoutes,
  ...enrolRoutes,
];
