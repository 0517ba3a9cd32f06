import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { CertificateMaterial } from '../../../../shared/domain/store/material.js';
import {
  Annotation,
  contentHash,
  decideSync,
  desiredSecret,
  MANAGED_BY_LABEL,
  SyncReason,
} from '../../../../shared/domain/sync/desired.js';
import type { DesiredSecret, ObservedSecret } from '../../../../shared/ports/cluster.js';

const inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities: [{name: ca, commonName: ca, secret: {name: ca, namespace: shop}}]
certificates: [{name: web, issuer: ca, usage: server, commonName: web, secret: {name: web, namespace: shop}}]
credentials: [{name: pw, type: password, secret: {name: pw, namespace: shop}}]
`);
const material: CertificateMaterial = {
  type: 'certificate',
  cert: 'LEAF\n',
  key: 'KEY\n',
  chain: 'INTER\n',
  ca: 'ROOT\n',
  notBefore: '2030-01-01T00:00:00.000Z',
  notAfter: '2030-04-01T00:00:00.000Z',
  serial: '01',
  fingerprint: 'fp',
  keyType: 'ECDSA-P256',
  specHash: 's',
};

const desired = (versionId = 'v2'): DesiredSecret =>
  desiredSecret({
    inventory: 'shop',
    item: inventory.items.get('web')!,
    unitKey: 'web',
    name: 'web',
    namespace: 'shop',
    versionId,
    material,
  });

/** What a cluster would hold after rekey wrote `desired(versionId)`. */
const written = (versionId = 'v2'): ObservedSecret => {
  const d = desired(versionId);
  return {
    name: d.name,
    namespace: d.namespace,
    type: d.type,
    data: { ...d.data },
    labels: { ...d.labels },
    annotations: { ...d.annotations },
  };
};

describe('desiredSecret', () => {
  it('a certificate becomes a kubernetes.io/tls Secret: tls.crt = leaf + intermediates, tls.key, ca.crt; label and annotations', () => {
    // Act
    const d = desired();
    // Assess
    expect(d.type).toBe('kubernetes.io/tls');
    expect(d.data).toEqual({ 'tls.crt': 'LEAF\nINTER\n', 'tls.key': 'KEY\n', 'ca.crt': 'ROOT\n' });
    expect(d.labels).toEqual({ [MANAGED_BY_LABEL]: 'rekey' });
    expect(d.annotations).toEqual({
      'rekey/inventory': 'shop',
      'rekey/item': 'web',
      'rekey/version': 'v2',
      'rekey/content-hash': contentHash('kubernetes.io/tls', d.data),
      'rekey/fingerprint': 'fp',
      'rekey/not-after': '2030-04-01T00:00:00.000Z',
    });
  });

  it('an authority publishes only its certificate (no key); a password is Opaque', () => {
    // Act
    const ca = desiredSecret({
      inventory: 'shop',
      item: inventory.items.get('ca')!,
      unitKey: 'ca',
      name: 'ca',
      namespace: 'shop',
      versionId: 'v',
      material,
    });
    const pw = desiredSecret({
      inventory: 'shop',
      item: inventory.items.get('pw')!,
      unitKey: 'pw',
      name: 'pw',
      namespace: 'shop',
      versionId: 'v',
      material: { type: 'password', password: 'pw-value', createdAt: 'x', specHash: 's' },
    });
    // Assess
    expect(ca).toMatchObject({ type: 'Opaque', data: { 'ca.crt': 'LEAF\nINTER\n' } });
    expect(JSON.stringify(ca)).not.toContain('KEY');
    expect(pw).toMatchObject({ type: 'Opaque', data: { password: 'pw-value' } });
    expect(pw.annotations[Annotation.Fingerprint]).toBeUndefined();
  });

  it('contentHash ignores key order and sees every change', () => {
    expect(contentHash('t', { a: '1', b: '2' })).toBe(contentHash('t', { b: '2', a: '1' }));
    expect(contentHash('t', { a: '1', b: '2' })).not.toBe(contentHash('t', { a: '1', b: '3' }));
    // Separators inside values cannot make two different Secrets collide.
    expect(contentHash('t', { a: 'x\0b\0y' })).not.toBe(contentHash('t', { a: 'x', b: 'y' }));
    expect(contentHash('t', { a: '1:b' })).not.toBe(contentHash('t', { a: '1', b: '' }));
    expect(contentHash('t', { a: '1' })).not.toBe(contentHash('u', { a: '1' }));
  });
});

describe('decideSync', () => {
  it.each<{ name: string; observed: () => ObservedSecret | undefined; adopt?: boolean; expected: ReturnType<typeof decideSync> }>([
    { name: 'missing', observed: () => undefined, expected: { write: true, reason: SyncReason.SecretMissing } },
    { name: 'unchanged', observed: () => written(), expected: { write: false } },
    {
      name: 'unmanaged, adopt false',
      observed: () => ({ ...written(), labels: {} }),
      expected: { write: false, reason: SyncReason.SecretUnmanaged },
    },
    {
      name: 'unmanaged, adopt true',
      observed: () => ({ ...written(), labels: { [MANAGED_BY_LABEL]: 'helm' } }),
      adopt: true,
      expected: { write: true, reason: SyncReason.SecretAdopted },
    },
    {
      name: 'out of date (an older version)',
      observed: () => written('v1'),
      expected: { write: true, reason: SyncReason.SecretOutOfDate },
    },
    {
      name: 'drifted: data edited by hand',
      observed: () => ({ ...written(), data: { ...written().data, 'tls.key': 'OTHER\n' } }),
      expected: { write: true, reason: SyncReason.SecretDrifted },
    },
    {
      name: 'drifted: a key added',
      observed: () => ({ ...written(), data: { ...written().data, extra: 'x' } }),
      expected: { write: true, reason: SyncReason.SecretDrifted },
    },
    {
      name: 'drifted: type changed',
      observed: () => ({ ...written(), type: 'Opaque' }),
      expected: { write: true, reason: SyncReason.SecretDrifted },
    },
    {
      name: 'drifted: content-hash annotation edited',
      observed: () => ({ ...written(), annotations: { ...written().annotations, [Annotation.ContentHash]: 'f00' } }),
      expected: { write: true, reason: SyncReason.SecretDrifted },
    },
    {
      name: 'drifted: fingerprint annotation edited',
      observed: () => ({ ...written(), annotations: { ...written().annotations, [Annotation.Fingerprint]: 'x' } }),
      expected: { write: true, reason: SyncReason.SecretDrifted },
    },
    {
      name: 'drifted: annotation removed',
      observed: () => {
        const o = written();
        const a = { ...o.annotations };
        delete a[Annotation.NotAfter];
        return { ...o, annotations: a };
      },
      expected: { write: true, reason: SyncReason.SecretDrifted },
    },
    {
      name: 'first reason wins: out of date and edited',
      observed: () => ({ ...written('v1'), data: { x: 'y' } }),
      expected: { write: true, reason: SyncReason.SecretOutOfDate },
    },
    {
      name: 'extra annotations and labels of others are fine',
      observed: () => ({
        ...written(),
        labels: { ...written().labels, team: 'a' },
        annotations: { ...written().annotations, 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      }),
      expected: { write: false },
    },
  ])('$name', ({ observed, adopt, expected }) => {
    // Act
    const decision = decideSync(desired(), observed(), adopt ?? false);
    // Assess
    expect(decision).toEqual(expected);
  });
});
