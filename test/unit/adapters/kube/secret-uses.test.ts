import { describe, expect, it } from 'vitest';
import { secretReferences } from '../../../../shared/adapters/kube/secret-uses.js';

describe('secret references of a pod spec', () => {
  it('finds volumes, projected sources, env valueFrom and envFrom in every container kind', () => {
    // Prepare
    const spec = {
      volumes: [
        { secret: { secretName: 'tls-a' } },
        { projected: { sources: [{ secret: { name: 'tls-b' } }, { configMap: { name: 'cm' } }] } },
        { emptyDir: {} },
      ],
      containers: [
        {
          env: [
            { name: 'A', value: 'x' },
            { name: 'PW', valueFrom: { secretKeyRef: { name: 'db-pw', key: 'password' } } },
          ],
        },
      ],
      initContainers: [{ envFrom: [{ secretRef: { name: 'init-env' } }, { configMapRef: { name: 'cm' } }] }],
      ephemeralContainers: [{ env: [{ name: 'B', valueFrom: { secretKeyRef: { name: 'debug' } } }] }],
    };
    // Act
    const refs = secretReferences(spec);
    // Assess
    expect(refs).toEqual([
      { secret: 'tls-a', via: 'volume' },
      { secret: 'tls-b', via: 'projected' },
      { secret: 'db-pw', via: 'env' },
      { secret: 'init-env', via: 'envFrom' },
      { secret: 'debug', via: 'env' },
    ]);
  });

  it('reports one entry per secret and way of use, and nothing for an empty spec', () => {
    // Prepare
    const spec = {
      containers: [{ env: [{ valueFrom: { secretKeyRef: { name: 's' } } }] }, { env: [{ valueFrom: { secretKeyRef: { name: 's' } } }] }],
    };
    // Act + Assess
    expect(secretReferences(spec)).toEqual([{ secret: 's', via: 'env' }]);
    expect(secretReferences(undefined)).toEqual([]);
    expect(secretReferences({})).toEqual([]);
  });
});
