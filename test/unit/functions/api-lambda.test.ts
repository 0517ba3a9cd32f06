import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiHandler, type HttpApiEvent } from '../../../functions/api.js';
import { coldStart, type FunctionQueue } from '../../../functions/lib/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { apiFixture, tokens, type ApiFixture } from '../app/api/fixture.js';

/** The API function on Lambda: GET /metrics answers Prometheus text and writes the same figures as EMF log lines. */

let root: string;
let f: ApiFixture;
let handle: ReturnType<typeof apiHandler>;
const written: string[] = [];

const event = (path: string, token?: string): HttpApiEvent => ({
  version: '2.0',
  rawPath: path,
  rawQueryString: '',
  headers: token ? { authorization: `Bearer ${token}` } : {},
  requestContext: { http: { method: 'GET', sourceIp: '198.51.100.7' }, requestId: 'r1' },
});

beforeAll(async () => {
  root = await makeTempDir('rekey-api-lambda-');
  f = await apiFixture(root);
  const queue = Object.assign(f.rt.queue, { postpone: async () => {}, deadLetter: async () => {} }) as unknown as FunctionQueue;
  const rt = coldStart({
    env: {},
    inventory: f.inventory,
    aws: { store: f.rt.store, journal: f.rt.journal, events: f.rt.bus, queue },
    log: f.logger,
    clusters: async () => new Map(),
  });
  handle = apiHandler(() => ({ rt, logger: f.logger }), { write: (l) => written.push(l) });
});
afterAll(() => removeTempDir(root));

interface Emf {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [k: string]: unknown;
}

describe('API function (Lambda)', () => {
  it('GET /metrics: Prometheus text of the store, and one EMF line per figure in the log (namespace rekey, labels as dimensions)', async () => {
    // Prepare
    const token = await tokens(f.inventory.name, f.key).valid({ scope: 'metrics:read' });

    // Act
    const res = await handle(event('/metrics', token), { awsRequestId: 'a', getRemainingTimeInMillis: () => 20_000 });

    // Assess
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(
      /^rekey_certificate_expiration_timestamp_seconds\{inventory="shop",item="web",unit="web",kind="certificate",version="[^"]+"\} \d+/m,
    );
    const emf = written.map((l) => JSON.parse(l) as Emf);
    const expiry = emf.filter((e) => e._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name === 'rekey_certificate_expiration_timestamp_seconds');
    expect(expiry.map((e) => e.item).sort()).toEqual(['root', 'web']);
    for (const e of expiry) {
      const [spec] = e._aws.CloudWatchMetrics;
      expect(spec).toMatchObject({
        Namespace: 'rekey',
        Metrics: [{ Name: 'rekey_certificate_expiration_timestamp_seconds', Unit: 'Seconds' }],
      });
      expect(spec!.Dimensions[0]).toEqual(['inventory', 'item', 'unit', 'kind', 'version']);
      expect(typeof e.rekey_certificate_expiration_timestamp_seconds).toBe('number');
    }
    expect(emf.some((e) => e._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name === 'rekey_certificate_renewal_timestamp_seconds')).toBe(true);
    expect(written.join('\n')).not.toMatch(/PRIVATE KEY|eyJ/);
  });

  it('GET /metrics without a token is 401 and writes no metric line', async () => {
    // Prepare
    const before = written.length;

    // Act
    const res = await handle(event('/metrics'));

    // Assess
    expect(res.statusCode).toBe(401);
    expect(written.length).toBe(before);
  });
});
