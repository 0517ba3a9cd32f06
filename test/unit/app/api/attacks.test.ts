import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiHandler, type HttpApiEvent } from '../../../../functions/api.js';
import { coldStart, type FunctionQueue } from '../../../../functions/lib/runtime.js';
import { listenHttps, type HttpsApi } from '../../../../shared/app/api/https-server.js';
import { saveApiSigningKey, newApiSigningKey } from '../../../../shared/app/api/signing-key.js';
import { selfSignedTls, type TlsMaterial } from '../../../../shared/app/api/tls.js';
import { problemSchema } from '../../../../shared/app/api/schemas.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, httpsSend, tokens, type ApiFixture, type Outgoing, type Sent } from './fixture.js';

type Transport = (req: Outgoing) => Promise<Sent>;

interface Attack {
  readonly name: string;
  readonly status: number;
  readonly request: () => Promise<Outgoing>;
}

const json = { 'content-type': 'application/json' };

/** The attack list: each is refused with this status, and none may change anything. */
function attacks(f: ApiFixture): Attack[] {
  const t = tokens(f.inventory.name, f.key);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const now = Math.floor(Date.now() / 1000);
  const rotate = (token: string | undefined, body: string | Buffer = JSON.stringify({ item: 'web' }), extra: Record<string, string> = {}) =>
    ({ method: 'POST', path: '/v1/rotations', headers: { ...json, ...(token && bearer(token)), ...extra }, body }) as Outgoing;
  return [
    { name: 'no token', status: 401, request: async () => rotate(undefined) },
    { name: 'no token on /metrics', status: 401, request: async () => ({ method: 'GET', path: '/metrics' }) },
    {
      name: 'no token on PUT /v1/log/level',
      status: 401,
      request: async () => ({ method: 'PUT', path: '/v1/log/level', headers: json, body: '{"level":"debug"}' }),
    },
    {
      name: 'not a bearer scheme',
      status: 401,
      request: async () => ({ method: 'GET', path: '/v1/items', headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
    },
    { name: 'alg none', status: 401, request: async () => rotate(t.algNone()) },
    { name: 'HS256 signed with the public key', status: 401, request: async () => rotate(await t.hs256WithPublicKey()) },
    {
      name: 'expired (beyond the 30 s skew)',
      status: 401,
      request: async () => rotate(await t.valid({ scope: 'rotations:write', iat: now - 3600, nbf: now - 3600, exp: now - 60 })),
    },
    {
      name: 'nbf in the future (beyond the 30 s skew)',
      status: 401,
      request: async () => rotate(await t.valid({ scope: 'rotations:write', nbf: now + 120 })),
    },
    { name: 'unknown kid', status: 401, request: async () => rotate(await t.otherKey('not-a-known-kid')) },
    { name: 'known kid, other key (forged signature)', status: 401, request: async () => rotate(await t.otherKey(f.key.kid)) },
    { name: 'wrong iss', status: 401, request: async () => rotate(await t.valid({ scope: 'rotations:write', iss: 'rekey/other' })) },
    { name: 'wrong aud', status: 401, request: async () => rotate(await t.valid({ scope: 'rotations:write', aud: 'someone-else' })) },
    { name: 'missing scope', status: 403, request: async () => rotate(await t.valid({ scope: 'items:read metrics:read' })) },
    {
      name: 'missing scope on /metrics',
      status: 403,
      request: async () => ({ method: 'GET', path: '/metrics', headers: bearer(await t.valid({ scope: 'items:read' })) }),
    },
    {
      name: 'missing scope on PUT /v1/log/level',
      status: 403,
      request: async () => ({
        method: 'PUT',
        path: '/v1/log/level',
        headers: { ...json, ...bearer(await t.valid({ scope: 'metrics:read' })) },
        body: '{"level":"debug"}',
      }),
    },
    {
      name: '10 MB body',
      status: 413,
      request: async () => rotate(await t.valid({ scope: 'rotations:write' }), Buffer.alloc(10 * 1024 * 1024, 0x61)),
    },
    { name: 'malformed JSON', status: 400, request: async () => rotate(await t.valid({ scope: 'rotations:write' }), '{"item": "web"') },
    {
      name: 'body of the wrong shape',
      status: 422,
      request: async () => rotate(await t.valid({ scope: 'rotations:write' }), '{"item": "web", "extra": 1}'),
    },
    {
      name: 'wrong media type',
      status: 415,
      request: async () =>
        rotate(await t.valid({ scope: 'rotations:write' }), 'item=web', { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    {
      name: 'item name ../ in the body',
      status: 422,
      request: async () => rotate(await t.valid({ scope: 'rotations:write' }), JSON.stringify({ item: '../web' })),
    },
    {
      name: 'item name with NUL in the body',
      status: 422,
      request: async () => rotate(await t.valid({ scope: 'rotations:write' }), JSON.stringify({ item: 'web\u0000' })),
    },
    { name: 'item path ..', status: 400, request: async () => ({ method: 'GET', path: '/v1/items/..', headers: bearer(await t.valid()) }) },
    {
      name: 'item path ..%2F..%2Fvault',
      status: 400,
      request: async () => ({ method: 'GET', path: '/v1/items/..%2F..%2Fvault', headers: bearer(await t.valid()) }),
    },
    {
      name: 'item path with %2F',
      status: 400,
      request: async () => ({ method: 'GET', path: '/v1/items/root%2Fweb', headers: bearer(await t.valid()) }),
    },
    {
      name: 'item path with NUL',
      status: 400,
      request: async () => ({ method: 'GET', path: '/v1/items/web%00', headers: bearer(await t.valid()) }),
    },
    {
      name: 'rollback of ../',
      status: 400,
      request: async () => ({
        method: 'POST',
        path: '/v1/items/..%2Fweb/rollback',
        headers: { ...json, ...bearer(await t.valid({ scope: 'rotations:write' })) },
        body: '{}',
      }),
    },
    {
      name: 'malformed escape in the path',
      status: 400,
      request: async () => ({ method: 'GET', path: '/v1/items/%E0%A4%A', headers: bearer(await t.valid()) }),
    },
    { name: 'unknown route', status: 404, request: async () => ({ method: 'GET', path: '/v1/secrets' }) },
    { name: 'wrong method', status: 405, request: async () => ({ method: 'DELETE', path: '/v1/items' }) },
  ];
}

async function snapshot(f: ApiFixture) {
  return {
    rotations:
      (await f.rt.journal.listByItem(f.inventory.name, 'web')).length + (await f.rt.journal.listByItem(f.inventory.name, 'root')).length,
    events: f.rt.bus.published.length,
    queued: f.rt.queue.size,
    web: (await f.rt.store.describe('rekey/shop/web'))?.versions.length,
    level: f.logger.level(),
  };
}

const transports: Record<string, (f: ApiFixture) => Promise<{ send: Transport; close: () => Promise<void> }>> = {
  'rekey serve (HTTPS)': async (f) => {
    const tls: TlsMaterial = selfSignedTls(['localhost']);
    const server: HttpsApi = await listenHttps({ router: f.api.router, tls, port: 0, host: '127.0.0.1' });
    return { send: (req) => httpsSend(server.port, tls.cert, req), close: () => server.close() };
  },
  'Lambda (API Gateway payload 2.0)': async (f) => {
    const queue = Object.assign(f.rt.queue, { postpone: async () => {}, deadLetter: async () => {} }) as unknown as FunctionQueue;
    const rt = coldStart({
      env: {},
      inventory: f.inventory,
      aws: { store: f.rt.store, journal: f.rt.journal, events: f.rt.bus, queue },
      log: f.logger,
      clusters: async () => new Map(),
    });
    const handle = apiHandler(() => ({ rt, logger: f.logger }));
    const send: Transport = async (req) => {
      const body =
        req.body === undefined
          ? undefined
          : Buffer.isBuffer(req.body)
            ? req.body.toString('base64')
            : Buffer.from(req.body).toString('base64');
      const [path, query] = req.path.split('?');
      const event: HttpApiEvent = {
        version: '2.0',
        rawPath: path!,
        rawQueryString: query ?? '',
        headers: Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
        ...(body !== undefined && { body, isBase64Encoded: true }),
        requestContext: { http: { method: req.method, sourceIp: '198.51.100.7' }, requestId: 'r1' },
      };
      const res = await handle(event);
      return { status: res.statusCode, headers: res.headers, body: res.body };
    };
    return { send, close: async () => {} };
  },
};

describe.each(Object.keys(transports))('attack list against %s', (transportName) => {
  let root: string;
  let f: ApiFixture;
  let send: Transport;
  let close: () => Promise<void>;
  beforeAll(async () => {
    root = await makeTempDir('rekey-api-attacks-');
    f = await apiFixture(root, { router: { rateLimit: false } });
    ({ send, close } = await transports[transportName]!(f));
  });
  afterAll(async () => {
    await close();
    await removeTempDir(root);
  });

  it('refuses every attack with the right status, as a problem document, and changes nothing', async () => {
    // Prepare
    const list = attacks(f);
    const before = await snapshot(f);
    const outcomes: string[] = [];

    // Act
    for (const a of list) {
      const res = await send(await a.request());
      outcomes.push(`${a.name}: ${res.status}`);
      // Assess (each)
      expect(res.status, a.name).toBe(a.status);
      expect(String(res.headers['content-type']), a.name).toBe('application/problem+json');
      expect(problemSchema.safeParse(JSON.parse(res.body)).success, a.name).toBe(true);
      if (a.status === 401) expect(String(res.headers['www-authenticate']), a.name).toMatch(/^Bearer /);
    }

    // Assess
    expect(list).toHaveLength(29);
    expect(outcomes).toHaveLength(29);
    expect(await snapshot(f)).toEqual(before);
    expect(before.rotations).toBe(0);
  });

  it('accepts a valid token: the same request the attacks bent starts a rotation (202), within the 30 s skew', async () => {
    // Prepare
    const t = tokens(f.inventory.name, f.key);
    const now = Math.floor(Date.now() / 1000);
    const token = await t.valid({ scope: 'rotations:write items:read', nbf: now + 20 });

    // Act
    const res = await send({
      method: 'POST',
      path: '/v1/rotations',
      headers: { ...json, authorization: `Bearer ${token}` },
      body: JSON.stringify({ item: 'web', reason: 'test' }),
    });
    const got = await send({ method: 'GET', path: JSON.parse(res.body).location, headers: { authorization: `Bearer ${token}` } });

    // Assess
    expect(res.status).toBe(202);
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body)).toMatchObject({ item: 'web', trigger: 'api', reason: 'test' });
  });

  it('never writes a token or key to the log', async () => {
    const text = f.logLines.join('\n');
    expect(f.logLines.length).toBeGreaterThan(5);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/);
    expect(text).not.toContain(String(f.key.jwk.d));
    expect(text).not.toContain('PRIVATE KEY');
  });
});

describe('a token of a removed key', () => {
  it('is refused once the key set no longer holds its key', async () => {
    // Prepare
    const root = await makeTempDir('rekey-api-removed-');
    try {
      const f = await apiFixture(root);
      const old = await tokens(f.inventory.name, f.key).valid();
      const before = await f.api.router({
        method: 'GET',
        path: '/v1/items',
        query: new URLSearchParams(),
        headers: { authorization: `Bearer ${old}` },
        client: 'c',
      });
      // Act: a new key whose set no longer carries the old one (its overlap is over)
      await saveApiSigningKey(f.rt.store, f.inventory.name, await newApiSigningKey('ES256', new Date()));
      const after = await f.api.router({
        method: 'GET',
        path: '/v1/items',
        query: new URLSearchParams(),
        headers: { authorization: `Bearer ${old}` },
        client: 'c',
      });
      // Assess
      expect(before.status).toBe(200);
      expect(after.status).toBe(401);
    } finally {
      await removeTempDir(root);
    }
  });

  it('is still accepted while the key is in its overlap (kept in the set after a rotation)', async () => {
    const root = await makeTempDir('rekey-api-overlap-');
    try {
      const f = await apiFixture(root);
      const old = await tokens(f.inventory.name, f.key).valid();
      await saveApiSigningKey(f.rt.store, f.inventory.name, await newApiSigningKey('EdDSA', new Date(), f.key));
      const res = await f.api.router({
        method: 'GET',
        path: '/v1/items',
        query: new URLSearchParams(),
        headers: { authorization: `Bearer ${old}` },
        client: 'c',
      });
      expect(res.status).toBe(200);
    } finally {
      await removeTempDir(root);
    }
  });
});
