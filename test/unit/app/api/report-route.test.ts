import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenHttps, type HttpsApi } from '../../../../shared/app/api/https-server.js';
import { selfSignedTls } from '../../../../shared/app/api/tls.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, httpsSend, tokens, type ApiFixture } from './fixture.js';

/** GET /report on `rekey serve`: the page `rekey report` writes, behind items:read. */

let root: string;
let f: ApiFixture;
let server: HttpsApi;
let ca: string;

beforeAll(async () => {
  root = await makeTempDir('rekey-api-report-');
  f = await apiFixture(root, { router: { rateLimit: false } });
  const tls = selfSignedTls(['localhost']);
  ca = tls.cert;
  server = await listenHttps({ router: f.api.router, tls, port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server.close();
  await removeTempDir(root);
});

const get = (token?: string) =>
  httpsSend(server.port, ca, { method: 'GET', path: '/report', headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('GET /report', () => {
  it('with items:read: the self-contained HTML report of the inventory (its items, no script), locked down by CSP', async () => {
    // Prepare
    const token = await tokens(f.inventory.name, f.key).valid({ scope: 'items:read' });

    // Act
    const res = await get(token);

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
    );
    expect(res.body).toMatch(/^<!doctype html>/);
    expect(res.body).toContain('<title>rekey report: shop</title>');
    for (const item of ['web', 'root']) expect(res.body).toContain(item);
    expect(res.body).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(res.body).not.toMatch(/PRIVATE KEY/);
  });

  it('refuses without a token (401) and with a token lacking items:read (403), as problem documents', async () => {
    // Prepare
    const metricsOnly = await tokens(f.inventory.name, f.key).valid({ scope: 'metrics:read' });

    // Act
    const anonymous = await get();
    const wrongScope = await get(metricsOnly);

    // Assess
    expect([anonymous.status, wrongScope.status]).toEqual([401, 403]);
    for (const r of [anonymous, wrongScope]) expect(r.headers['content-type']).toBe('application/problem+json');
  });
});
