import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiRequest } from '../../../../shared/app/api/http.js';
import type { SharedRateLimit } from '../../../../shared/ports/shared-rate-limit.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, tokens, type ApiFixture } from './fixture.js';

/** The router's shared (cross-process) rate limit: keyed by subject or peer, checked before any use case, fail-open. */

let root: string;
let f: ApiFixture;
const taken: string[] = [];
let answer: () => Promise<number>;
const shared: SharedRateLimit = {
  take: (client) => {
    taken.push(client);
    return answer();
  },
};

const request = (method: string, path: string, token?: string, body?: unknown): ApiRequest => ({
  method,
  path,
  query: new URLSearchParams(),
  headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
  ...(body !== undefined && { body: Buffer.from(JSON.stringify(body)) }),
  client: '192.0.2.9',
});

beforeEach(async () => {
  root = await makeTempDir('rekey-api-shared-limit-');
  f = await apiFixture(root, { router: { rateLimit: false, sharedRateLimit: shared } });
  taken.length = 0;
  answer = async () => 0;
});
afterEach(() => removeTempDir(root));

describe('router: shared rate limit', () => {
  it('counts authenticated requests by token subject and open ones by peer', async () => {
    // Prepare
    const token = await tokens(f.inventory.name, f.key).valid({ sub: 'ops-bot' });

    // Act
    const items = await f.api.router(request('GET', '/v1/items', token));
    const health = await f.api.router(request('GET', '/healthz'));

    // Assess
    expect([items.status, health.status]).toEqual([200, 200]);
    expect(taken).toEqual(['sub:ops-bot', 'peer:192.0.2.9']);
  });

  it('refuses with 429 and Retry-After when the window is full, before the use case runs', async () => {
    // Prepare
    answer = async () => 7;
    const token = await tokens(f.inventory.name, f.key).valid({ scope: 'rotations:write' });

    // Act
    const res = await f.api.router(request('POST', '/v1/rotations', token, { item: 'web', reason: 'flood' }));

    // Assess
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(await f.rt.journal.listByItem(f.inventory.name, 'web')).toEqual([]);
  });

  it('lets the request through (logged) when the shared counter cannot be reached', async () => {
    // Prepare
    answer = async () => {
      throw new Error('DynamoDB unavailable');
    };
    const token = await tokens(f.inventory.name, f.key).valid();

    // Act
    const res = await f.api.router(request('GET', '/v1/items', token));

    // Assess
    expect(res.status).toBe(200);
    expect(f.logLines.some((l) => l.includes('shared rate limit not reachable'))).toBe(true);
  });
});
