import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../../shared/adapters/kube/client.js';
import { KubeImportSource } from '../../../../shared/adapters/kube/import-reader.js';
import { ForbiddenError } from '../../../../shared/adapters/kube/errors.js';
import { TransientError } from '../../../../shared/domain/errors.js';

/** An API error as client-node throws it: the HTTP code and the Status body. */
const apiError = (code: number, message: string) => Object.assign(new Error(`HTTP ${code}`), { code, body: { message } });

/** A client whose cert-manager lists answer from `answer` (kind, call number of that kind). */
function fakeClient(answer: (kind: string, call: number) => unknown) {
  const calls: string[] = [];
  const client = {
    cluster: 'dc1',
    objects: {
      list: async (_apiVersion: string, kind: string) => {
        calls.push(kind);
        const result = answer(kind, calls.filter((k) => k === kind).length);
        if (result instanceof Error) throw result;
        return result;
      },
    },
  } as unknown as KubeClient;
  return { client, calls };
}

const issuer = { metadata: { name: 'root' }, spec: { ca: { secretName: 'root-ca' } } };

describe('KubeImportSource (rekey import)', () => {
  it("asks a list again while the API answers 429 (a new CRD's storage initializing), then reads it", async () => {
    // Prepare: the ClusterIssuer list answers 429 twice
    const { client, calls } = fakeClient((kind, n) =>
      kind === 'ClusterIssuer' && n <= 2
        ? apiError(429, 'storage is (re)initializing')
        : { items: kind === 'ClusterIssuer' ? [issuer] : [] },
    );
    const source = new KubeImportSource(client, { retryDelayMs: 1 });
    // Act
    const found = await source.certManager(['shop']);
    // Assess
    expect(found.installed).toBe(true);
    expect(found.issuers).toEqual([{ kind: 'ClusterIssuer', name: 'root', type: 'ca', caSecretName: 'root-ca' }]);
    expect(calls.filter((k) => k === 'ClusterIssuer')).toHaveLength(3);
  });

  it("gives up after its attempts with the API's message, and never asks again after a 403", async () => {
    // Prepare
    const busy = fakeClient(() => apiError(503, 'the server is busy'));
    const forbidden = fakeClient(() => apiError(403, 'certificates.cert-manager.io is forbidden'));
    // Act
    const busyError = await new KubeImportSource(busy.client, { listAttempts: 3, retryDelayMs: 1 })
      .certManager(['shop'])
      .catch((e: unknown) => e);
    const forbiddenError = await new KubeImportSource(forbidden.client, { retryDelayMs: 1 }).certManager(['shop']).catch((e: unknown) => e);
    // Assess
    expect(busyError).toBeInstanceOf(TransientError);
    expect((busyError as Error).message).toMatch(/list certificates\.cert-manager\.io.* failed with HTTP 503: the server is busy/);
    expect(busy.calls).toEqual(['Certificate', 'Certificate', 'Certificate']);
    expect(forbiddenError).toBeInstanceOf(ForbiddenError);
    expect(forbidden.calls).toEqual(['Certificate']);
  });
});
