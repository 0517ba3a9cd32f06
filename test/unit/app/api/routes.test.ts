import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiRequest } from '../../../../shared/app/api/http.js';
import { rotationIdForKey } from '../../../../shared/app/api/rotations.js';
import {
  healthSchema,
  itemDetailSchema,
  itemListSchema,
  logLevelSchema,
  planSchema,
  rotationAcceptedSchema,
  rotationSchema,
  versionSchema,
} from '../../../../shared/app/api/schemas.js';
import { REKEY_VERSION } from '../../../../shared/app/api/version.js';
import { openApiText } from '../../../../shared/app/api/write-openapi.js';
import { createApi } from '../../../../shared/app/api/index.js';
import { RekeyMetrics } from '../../../../shared/app/metrics/registry.js';
import { driveRotations } from '../../../../shared/app/rotation/index.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, tokens, type ApiFixture } from './fixture.js';

let root: string;
let f: ApiFixture;
let token: string;

const call = async (
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; token?: string; client?: string } = {},
) => {
  const req: ApiRequest = {
    method,
    path,
    query: new URLSearchParams(),
    headers: {
      ...(options.body !== undefined && { 'content-type': 'application/json' }),
      authorization: `Bearer ${options.token ?? token}`,
      ...options.headers,
    },
    ...(options.body !== undefined && { body: Buffer.from(JSON.stringify(options.body)) }),
    client: options.client ?? '192.0.2.1',
  };
  const res = await f.api.router(req);
  return { ...res, json: res.headers['content-type']?.includes('json') ? JSON.parse(res.body) : undefined };
};

beforeEach(async () => {
  root = await makeTempDir('rekey-api-routes-');
  f = await apiFixture(root, { router: { rateLimit: false } });
  token = await tokens(f.inventory.name, f.key).valid({ scope: 'rotations:write items:read metrics:read log:write' });
});
afterEach(() => removeTempDir(root));

describe('API routes', () => {
  it('answers /healthz, /readyz and /version without a token, bodies matching their schemas', async () => {
    for (const [path, schema] of [
      ['/healthz', healthSchema],
      ['/readyz', healthSchema],
      ['/version', versionSchema],
    ] as const) {
      const res = await call('GET', path, { headers: { authorization: '' } });
      expect(res.status, path).toBe(200);
      expect(schema.parse(res.json), path).toBeTruthy();
    }
    expect((await call('GET', '/version')).json).toEqual({ version: REKEY_VERSION, inventory: 'shop', runtime: 'serve' });
  });

  it('lists items and shows one with versions, targets and consumers', async () => {
    const list = await call('GET', '/v1/items');
    const one = await call('GET', '/v1/items/web');
    expect(itemListSchema.parse(list.json).items.map((i) => i.name)).toEqual(['root', 'web']);
    const detail = itemDetailSchema.parse(one.json);
    expect(detail.targets.secret).toEqual({ name: 'web', namespace: 'shop', clusters: ['default'] });
    expect(detail.versions.web).toHaveLength(1);
    expect(JSON.stringify(one.json)).not.toContain('PRIVATE KEY');
    expect((await call('GET', '/v1/items/nope')).status).toBe(404);
  });

  it('plans without changing anything', async () => {
    const res = await call('GET', '/v1/plan');
    expect(planSchema.parse(res.json).actions).toEqual([]);
  });

  it('starts a rotation (202, Location) and GET /v1/rotations/{id} follows it to completion', async () => {
    const res = await call('POST', '/v1/rotations', { body: { item: 'web', reason: 'api test' } });
    expect(res.status).toBe(202);
    const accepted = rotationAcceptedSchema.parse(res.json);
    expect(res.headers.location).toBe(`/v1/rotations/${accepted.id}`);
    await driveRotations(f.rt.deps, f.inventory, f.rt.queue);
    const done = rotationSchema.parse((await call('GET', accepted.location)).json);
    expect(done.status).toBe('completed');
    expect(done.trigger).toBe('api');
    expect((await call('GET', '/v1/rotations/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('honours Idempotency-Key: a retry returns the first rotation; the key reused for another item is 422', async () => {
    const first = await call('POST', '/v1/rotations', { body: { item: 'web' }, headers: { 'idempotency-key': 'k-1' } });
    const retry = await call('POST', '/v1/rotations', { body: { item: 'web' }, headers: { 'idempotency-key': 'k-1' } });
    const other = await call('POST', '/v1/rotations', { body: { item: 'root' }, headers: { 'idempotency-key': 'k-1' } });
    expect(first.status).toBe(202);
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json.id).toBe(first.json.id);
    expect(first.json.id).toBe(rotationIdForKey('shop', 'k-1'));
    expect(other.status).toBe(422);
    expect(await f.rt.journal.listByItem('shop', 'web')).toHaveLength(1);
  });

  it('refuses a second rotation of an item while one runs (409)', async () => {
    await call('POST', '/v1/rotations', { body: { item: 'web' } });
    const second = await call('POST', '/v1/rotations', { body: { item: 'web' } });
    expect(second.status).toBe(409);
    expect(second.headers['content-type']).toBe('application/problem+json');
  });

  it('rolls an item back to AWSPREVIOUS (the rollback use case) after the name is checked', async () => {
    const before = (await f.rt.store.describe('rekey/shop/web'))!.versions.find((v) => v.stages.includes('AWSCURRENT'))!.versionId;
    await call('POST', '/v1/rotations', { body: { item: 'web' } });
    await driveRotations(f.rt.deps, f.inventory, f.rt.queue);
    const res = await call('POST', '/v1/items/web/rollback', { body: { reason: 'api test' } });
    expect(res.status).toBe(200);
    expect((await f.rt.store.describe('rekey/shop/web'))!.versions.find((v) => v.stages.includes('AWSCURRENT'))!.versionId).toBe(before);
    expect((await call('POST', '/v1/items/nope/rollback', { body: {} })).status).toBe(404);
  });

  it('reads and changes the log level at runtime', async () => {
    expect(logLevelSchema.parse((await call('GET', '/v1/log/level')).json)).toEqual({ level: 'debug' });
    const put = await call('PUT', '/v1/log/level', { body: { level: 'error' } });
    expect(put.json).toEqual({ level: 'error' });
    expect(f.logger.level()).toBe('error');
    expect((await call('PUT', '/v1/log/level', { body: { level: 'verbose' } })).status).toBe(422);
  });

  it('rate-limits per client: 429 with Retry-After once the burst is spent', async () => {
    const limited = createApi({
      inventory: f.inventory,
      deps: f.rt.deps,
      runtime: 'serve',
      logger: f.logger,
      router: { rateLimit: { perSecond: 1, burst: 3 }, now: () => 1_000_000 },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (await limited.router({ method: 'GET', path: '/healthz', query: new URLSearchParams(), headers: {}, client: 'flood' })).status,
      );
    const other = await limited.router({ method: 'GET', path: '/healthz', query: new URLSearchParams(), headers: {}, client: 'calm' });
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(other.status).toBe(200);
  });

  it('answers a handler that overruns its deadline with 504', async () => {
    const slow = createApi({
      inventory: f.inventory,
      deps: f.rt.deps,
      runtime: 'serve',
      logger: f.logger,
      readiness: [{ name: 'slow', check: () => new Promise((r) => setTimeout(r, 1000)) }],
      router: { timeoutMs: 50 },
    });
    const res = await slow.router({ method: 'GET', path: '/readyz', query: new URLSearchParams(), headers: {}, client: 'c' });
    expect(res.status).toBe(504);
  });

  it('serves Prometheus text behind metrics:read with the expiry of every certificate', async () => {
    const metrics = new RekeyMetrics({ deps: f.rt.deps, inventory: f.inventory });
    const api = createApi({
      inventory: f.inventory,
      deps: f.rt.deps,
      runtime: 'serve',
      logger: f.logger,
      metrics: () => metrics.text(),
      router: { rateLimit: false },
    });
    const res = await api.router({
      method: 'GET',
      path: '/metrics',
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${token}` },
      client: 'c',
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(
      /rekey_certificate_expiration_timestamp_seconds\{inventory="shop",item="web",unit="web",kind="certificate",version="[0-9a-f-]+"\} \d+/,
    );
    expect(res.body).toContain('rekey_certificate_renewal_timestamp_seconds{');
  });

  it('serves the OpenAPI 3.1 document, equal to events/openapi.json (npm run openapi regenerates it)', async () => {
    const res = await call('GET', '/openapi.json', { headers: { authorization: '' } });
    expect(res.json.openapi).toBe('3.1.0');
    expect(Object.keys(res.json.paths)).toEqual(expect.arrayContaining(['/v1/rotations', '/v1/items/{name}', '/metrics', '/v1/log/level']));
    expect(res.json.paths['/metrics'].get.security).toEqual([{ bearer: ['metrics:read'] }]);
    expect(readFileSync(new URL('../../../../events/openapi.json', import.meta.url), 'utf8')).toBe(openApiText());
  });

  it('keeps REKEY_VERSION equal to package.json', () => {
    expect(JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')).version).toBe(REKEY_VERSION);
  });
});
