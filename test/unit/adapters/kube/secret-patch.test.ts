import { describe, expect, it } from 'vitest';
import { observedOf, secretChange, secretObjectOf } from '../../../../shared/adapters/kube/secret-patch.js';
import type { DesiredSecret, ObservedSecret } from '../../../../shared/ports/cluster.js';

const desired: DesiredSecret = {
  name: 'api-tls',
  namespace: 'apic',
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': 'CERT', 'tls.key': 'KEY', 'ca.crt': 'CA' },
  labels: { 'app.kubernetes.io/managed-by': 'rekey' },
  annotations: { 'rekey/version': 'v2', 'rekey/item': 'api' },
};
const observed = (over: Partial<ObservedSecret> = {}): ObservedSecret => ({
  name: 'api-tls',
  namespace: 'apic',
  type: 'kubernetes.io/tls',
  data: { ...desired.data },
  labels: { ...desired.labels, team: 'a' },
  annotations: { ...desired.annotations, 'other/tool': 'keep' },
  resourceVersion: '41',
  ...over,
});

describe('secret change (what a write must send)', () => {
  it('is none when data, type, and rekey labels and annotations match (others may add their own)', () => {
    // Act + Assess
    expect(secretChange(desired, observed())).toEqual({ kind: 'none' });
  });

  it('sets changed data, removes stray keys, keeps foreign metadata, and carries the resourceVersion precondition', () => {
    // Prepare
    const seen = observed({
      data: { 'tls.crt': 'OLD', 'tls.key': 'KEY', 'ca.crt': 'CA', extra: 'x' },
      annotations: { 'rekey/version': 'v1', 'rekey/item': 'api', 'other/tool': 'keep' },
    });
    // Act
    const change = secretChange(desired, seen);
    // Assess
    expect(change).toEqual({
      kind: 'patch',
      patch: {
        metadata: { resourceVersion: '41', annotations: { 'rekey/version': 'v2' } },
        data: { 'tls.crt': Buffer.from('CERT').toString('base64'), extra: null },
      },
    });
  });

  it('removes the bundle hash once the overlap has ended (a merge patch would keep it, stale), and nothing foreign', () => {
    // Prepare: ca.crt shrinks back to one CA; the desired Secret has no bundle hash
    const seen = observed({
      data: { ...desired.data, 'ca.crt': 'OLD+CA' },
      annotations: { ...desired.annotations, 'rekey/bundle-hash': 'h', 'other/tool': 'keep' },
    });
    // Act
    const change = secretChange(desired, seen);
    // Assess
    expect(change).toEqual({
      kind: 'patch',
      patch: {
        metadata: { resourceVersion: '41', annotations: { 'rekey/bundle-hash': null } },
        data: { 'ca.crt': Buffer.from('CA').toString('base64') },
      },
    });
  });

  it('adds the managed-by label when adopting an unlabelled Secret', () => {
    // Prepare
    const seen = observed({ labels: {} });
    // Act
    const change = secretChange(desired, seen);
    // Assess
    expect(change).toMatchObject({ kind: 'patch', patch: { metadata: { labels: { 'app.kubernetes.io/managed-by': 'rekey' } } } });
  });

  it('reports a type change instead of patching (a Secret type is immutable)', () => {
    // Act + Assess
    expect(secretChange(desired, observed({ type: 'Opaque' }))).toEqual({ kind: 'type', from: 'Opaque', to: 'kubernetes.io/tls' });
  });
});

describe('secret encoding', () => {
  it('round-trips desired text through base64 API objects', () => {
    // Prepare
    const obj = { ...secretObjectOf(desired), metadata: { ...secretObjectOf(desired).metadata, resourceVersion: '7' } };
    // Act
    const back = observedOf(obj);
    // Assess
    expect(obj.data!['tls.key']).toBe(Buffer.from('KEY').toString('base64'));
    expect(back).toEqual({ ...desired, resourceVersion: '7' });
  });
});
