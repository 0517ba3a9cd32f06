import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EvictionBlockedError, ForbiddenError, RejectedError, translateKubeError } from '../../../../shared/adapters/kube/errors.js';
import { ConflictError, NotFoundError, RekeyError, TransientError } from '../../../../shared/domain/errors.js';

const status = (code: number, message: string) =>
  new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', code, message }), {});
const op = { cluster: 'dc1', verb: 'patch', resource: 'secrets', namespace: 'apic', name: 'api-tls' } as const;

describe('translating client-node errors', () => {
  it.each([
    [403, ForbiddenError, /rekey's service account may not patch secrets in apic on cluster dc1/, false],
    [404, NotFoundError, /secrets apic\/api-tls not found in apic on cluster dc1/, false],
    [409, ConflictError, /changed concurrently/, true],
    [422, RejectedError, /cluster dc1 rejected patch/, false],
    [500, TransientError, /HTTP 500/, true],
    [503, TransientError, /HTTP 503/, true],
    [429, TransientError, /HTTP 429/, true],
  ] as const)('HTTP %i -> %o', (code, type, message, retryable) => {
    // Act
    const e = translateKubeError(status(code, 'server says no'), op);
    // Assess
    expect(e).toBeInstanceOf(type);
    expect(e.message).toMatch(message);
    expect(e.message).toContain('server says no');
    expect(e.retryable).toBe(retryable);
    expect(e.context).toMatchObject({ cluster: 'dc1', namespace: 'apic' });
  });

  it('a 429 on an eviction is a PodDisruptionBudget refusal: retry later', () => {
    // Act
    const e = translateKubeError(status(429, "Cannot evict pod as it would violate the pod's disruption budget."), {
      cluster: 'dc2',
      verb: 'evict',
      resource: 'pods/eviction',
      namespace: 'apic',
      name: 'p',
    });
    // Assess
    expect(e).toBeInstanceOf(EvictionBlockedError);
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/PodDisruptionBudget/);
  });

  it('a refused eviction names the budget the API server named in the Status causes', () => {
    // Prepare
    const body = {
      kind: 'Status',
      code: 429,
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      details: {
        causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget db-budget needs 3 healthy pods and has 3 currently' }],
      },
    };
    // Act
    const e = translateKubeError(new ApiException(429, 'HTTP-Code: 429', JSON.stringify(body), {}), {
      cluster: 'dc1',
      verb: 'evict',
      resource: 'pods/eviction',
      namespace: 'apic',
      name: 'db-2',
    });
    // Assess
    expect(e).toBeInstanceOf(EvictionBlockedError);
    expect(e.message).toMatch(/PodDisruptionBudget.*disruption budget db-budget needs 3 healthy pods/);
  });

  it('network failures and request timeouts are transient and name the cluster', () => {
    // Prepare
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { name: 'FetchError', code: 'ECONNREFUSED' });
    const aborted = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    // Act
    const a = translateKubeError(refused, op);
    const b = translateKubeError(aborted, op);
    // Assess
    expect(a).toBeInstanceOf(TransientError);
    expect(a.message).toMatch(/on cluster dc1 failed \(connect ECONNREFUSED/);
    expect(b).toBeInstanceOf(TransientError);
    expect(b.message).toMatch(/timed out/);
  });

  it('keeps rekey errors as they are', () => {
    // Prepare
    const mine = new RekeyError('already translated');
    // Act + Assess
    expect(translateKubeError(mine, op)).toBe(mine);
  });
});
