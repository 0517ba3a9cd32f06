import type { KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { adoptableMaterial } from '../../../../shared/domain/pki/adopt.js';
import { buildCertificate } from '../../../../shared/domain/pki/certificate.js';
import { privateKeyToPem } from '../../../../shared/domain/pki/keys.js';
import type { ObservedSecret } from '../../../../shared/ports/cluster.js';
import { pkiInventory, unitOf } from '../../../fixtures/pki.js';
import { nodeKeyPair } from '../../../fixtures/keys.js';

const NOW = new Date('2031-02-03T04:05:06Z');
const WEB_IPS = ['127.0.0.1', '::1'];
const DAY = 86_400_000;

let inventory: Inventory;

/** A certificate made elsewhere for the same names and usage as the inventory's `web` (unless told otherwise). */
function selfSigned(
  key: { privateKey: KeyObject; publicKey: KeyObject },
  notAfter: Date,
  notBefore = new Date(NOW.getTime() - DAY),
  dnsNames = ['web', 'web.shop.svc'],
): string {
  return buildCertificate({
    subject: { commonName: 'existing' },
    publicKey: key.publicKey,
    notBefore,
    notAfter,
    profile: { kind: 'leaf', usage: 'server', altNames: { dnsNames, ipAddresses: WEB_IPS, uris: [] } },
    selfSigningKey: key.privateKey,
  }).pem;
}

const secret = (data: Record<string, string>): ObservedSecret => ({
  name: 'web',
  namespace: 'shop',
  type: 'kubernetes.io/tls',
  data,
  labels: {},
  annotations: {},
});

beforeAll(() => {
  inventory = pkiInventory();
});

describe('adoptableMaterial (seed 000: keep a valid existing Secret)', () => {
  it('takes over a valid certificate and key, keeping its serial, fingerprint and dates, and marks it adopted', () => {
    // Prepare
    const key = nodeKeyPair('ec', { namedCurve: 'prime256v1' });
    const cert = selfSigned(key, new Date(NOW.getTime() + 365 * DAY));
    // Act
    const m = adoptableMaterial(
      unitOf(inventory, 'web'),
      secret({ 'tls.crt': cert, 'tls.key': privateKeyToPem(key.privateKey), 'ca.crt': cert }),
      NOW,
      'spec',
    );
    // Assess
    expect(typeof m).toBe('object');
    if (typeof m === 'string') return;
    expect(m).toMatchObject({
      type: 'certificate',
      adopted: true,
      keyType: 'ECDSA-P256',
      specHash: 'spec',
      chain: '',
      ca: cert,
      notAfter: new Date(NOW.getTime() + 365 * DAY).toISOString(),
    });
    expect(m.cert).toBe(cert);
    expect(m.key).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('refuses a valid certificate made for other names: it would be kept for a host it does not serve', () => {
    // Prepare
    const key = nodeKeyPair('ec', { namedCurve: 'prime256v1' });
    const cert = selfSigned(key, new Date(NOW.getTime() + 365 * DAY), undefined, ['elsewhere']);
    // Act
    const m = adoptableMaterial(
      unitOf(inventory, 'web'),
      secret({ 'tls.crt': cert, 'tls.key': privateKeyToPem(key.privateKey) }),
      NOW,
      'spec',
    );
    // Assess
    expect(m).toMatch(/does not fit the inventory: SAN DNS:web missing; SAN DNS:web.shop.svc missing/);
  });

  it('keeps intermediates found after the leaf in tls.crt as the chain', () => {
    // Prepare
    const key = nodeKeyPair('ed25519');
    const leaf = selfSigned(key, new Date(NOW.getTime() + 365 * DAY));
    const extra = selfSigned(nodeKeyPair('ed25519'), new Date(NOW.getTime() + 365 * DAY));
    // Act
    const m = adoptableMaterial(
      unitOf(inventory, 'web'),
      secret({ 'tls.crt': leaf + extra, 'tls.key': privateKeyToPem(key.privateKey) }),
      NOW,
      's',
    );
    // Assess
    if (typeof m === 'string') throw new Error(m);
    expect(m.cert).toBe(leaf);
    expect(m.chain).toBe(extra);
    expect(m.ca).toBe(leaf);
  });

  it.each<{ name: string; data: () => Record<string, string>; reason: RegExp }>([
    {
      name: 'no tls.key',
      data: () => ({ 'tls.crt': selfSigned(nodeKeyPair('ed25519'), new Date(NOW.getTime() + DAY * 365)) }),
      reason: /no tls.crt and tls.key/,
    },
    { name: 'tls.crt without a certificate', data: () => ({ 'tls.crt': 'hello', 'tls.key': 'x' }), reason: /holds no certificate/ },
    {
      name: 'garbage key',
      data: () => ({ 'tls.crt': selfSigned(nodeKeyPair('ed25519'), new Date(NOW.getTime() + DAY * 365)), 'tls.key': 'garbage' }),
      reason: /does not parse/,
    },
    {
      name: 'a key that does not match',
      data: () => ({
        'tls.crt': selfSigned(nodeKeyPair('ed25519'), new Date(NOW.getTime() + DAY * 365)),
        'tls.key': privateKeyToPem(nodeKeyPair('ed25519').privateKey),
      }),
      reason: /does not match/,
    },
    {
      name: 'an expired certificate',
      data: () => {
        const k = nodeKeyPair('ed25519');
        return {
          'tls.crt': selfSigned(k, new Date(NOW.getTime() - DAY), new Date(NOW.getTime() - 10 * DAY)),
          'tls.key': privateKeyToPem(k.privateKey),
        };
      },
      reason: /within renewBefore/,
    },
    {
      name: 'a certificate due for renewal (inside renewBefore)',
      data: () => {
        const k = nodeKeyPair('ed25519');
        return { 'tls.crt': selfSigned(k, new Date(NOW.getTime() + 10 * DAY)), 'tls.key': privateKeyToPem(k.privateKey) };
      },
      reason: /within renewBefore/,
    },
    {
      name: 'a key type rekey does not issue (P-521)',
      data: () => {
        const k = nodeKeyPair('ec', { namedCurve: 'secp521r1' });
        return {
          'tls.crt': selfSigned(k, new Date(NOW.getTime() + 365 * DAY)),
          'tls.key': k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        };
      },
      reason: /key type is not one rekey issues/,
    },
  ])('refuses $name', ({ data, reason }) => {
    // Act
    const result = adoptableMaterial(unitOf(inventory, 'web'), secret(data()), NOW, 's');
    // Assess
    expect(typeof result).toBe('string');
    expect(result).toMatch(reason);
  });

  it('refuses to adopt into an authority', () => {
    const k = nodeKeyPair('ed25519');
    const cert = selfSigned(k, new Date(NOW.getTime() + 365 * DAY));
    expect(
      adoptableMaterial(unitOf(inventory, 'root'), secret({ 'tls.crt': cert, 'tls.key': privateKeyToPem(k.privateKey) }), NOW, 's'),
    ).toMatch(/only certificates/);
  });
});
