/**
 * What a test API server can take, as the reference for rekey's Secret writes: N Secrets created by plain parallel
 * POSTs (Node's https with one keep-alive agent, `concurrency` in flight, no client library, no reads), into a
 * namespace that must exist. Used by cert-manager.ts beside rekey's apply; alone:
 *
 *   npx tsx test/bench/kube-ceiling.ts [--secrets 1000] [--concurrency 64] [--context dc1]
 */
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { mapLimit } from '../../shared/app/concurrency.js';
import { loadInfraEnv } from '../infra/env.js';

export interface Ceiling {
  readonly secrets: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/** POSTs `n` small Opaque Secrets named `${prefix}-<i>` into `namespace`; every answer must be 201. */
export async function createLoop(kc: KubeConfig, namespace: string, n: number, concurrency: number, prefix = 'ceiling'): Promise<Ceiling> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}/api/v1/namespaces/${namespace}/secrets`);
  const secure = url.protocol === 'https:';
  const agent = secure
    ? new https.Agent({ ca: options.ca, cert: options.cert, key: options.key, keepAlive: true, maxSockets: concurrency })
    : new http.Agent({ keepAlive: true });
  const post = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `${prefix}-${i}` },
        type: 'Opaque',
        data: { 'tls.crt': Buffer.alloc(700, i % 256).toString('base64'), 'tls.key': Buffer.alloc(240, i % 256).toString('base64') },
      });
      const req = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            ...options.headers,
            'content-type': 'application/json',
            accept: 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`POST ${url.pathname}: ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const start = process.hrtime.bigint();
  try {
    await mapLimit(
      Array.from({ length: n }, (_, i) => i),
      concurrency,
      post,
    );
  } finally {
    agent.destroy();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { secrets: n, concurrency, seconds, perSecond: n / seconds };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { secrets: { type: 'string' }, concurrency: { type: 'string' }, context: { type: 'string' } } });
  const kc = new KubeConfig();
  kc.loadFromFile(loadInfraEnv({ require: ['kube'] }).kube.kubeconfig);
  kc.setCurrentContext(values.context ?? 'dc1');
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = `kube-ceiling-${Math.random().toString(16).slice(2, 6)}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  try {
    for (const concurrency of (values.concurrency ?? '16,64').split(',').map(Number)) {
      const r = await createLoop(kc, namespace, Number(values.secrets ?? 1000), concurrency, `c${concurrency}`);
      console.log(`${r.secrets} Secrets, ${r.concurrency} in flight: ${r.seconds.toFixed(2)} s, ${r.perSecond.toFixed(0)}/s`);
    }
  } finally {
    await core.deleteNamespace({ name: namespace });
  }
}
