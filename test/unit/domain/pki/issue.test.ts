import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { BACKDATE_MS, issueMaterial, type IssuerMaterial } from '../../../../shared/domain/pki/issue.js';
import { pemBlocks } from '../../../../shared/domain/pki/der.js';
import { specHashOf } from '../../../../shared/domain/units.js';
import { extensionOf, openssl, pemFile } from '../../../fixtures/openssl.js';
import { issueAuthorities, pkiInventory, unitOf } from '../../../fixtures/pki.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const NOW = new Date('2031-02-03T04:05:06.000Z');
const AT = String(NOW.getTime() / 1000);
const HOUR = 3_600_000;

let dir: string;
let inventory: Inventory;
let cas: { root: IssuerMaterial; inter: IssuerMaterial; otherRoot: IssuerMaterial };

beforeAll(async () => {
  dir = await makeTempDir('rekey-issue-');
  inventory = pkiInventory();
  cas = issueAuthorities(inventory, NOW);
});
afterAll(() => removeTempDir(dir));

describe('issueMaterial', () => {
  it('issues a root: self-signed, no chain, its own certificate as trust bundle', () => {
    // Prepare
    const root = cas.root.material;
    // Act
    const x = new X509Certificate(root.cert);
    // Assess
    expect(x.ca).toBe(true);
    expect(x.checkIssued(x)).toBe(true);
    expect(root.chain).toBe('');
    expect(root.ca).toBe(root.cert);
    expect(root.issuer).toBeUndefined();
    expect(root.keyType).toBe('ECDSA-P384');
    expect(root.notAfter).toBe(new Date(NOW.getTime() + 87600 * HOUR).toISOString());
  });

  it('an intermediate carries no chain of its own (the root is not sent) and trusts the root', () => {
    // Prepare
    const inter = cas.inter.material;
    // Act
    const x = new X509Certificate(inter.cert);
    // Assess
    expect(inter.chain).toBe('');
    expect(inter.ca).toBe(cas.root.material.cert);
    expect(inter.issuer).toBe('root');
    expect(inter.issuerFingerprint).toBe(cas.root.material.fingerprint);
    expect(x.verify(new X509Certificate(cas.root.material.cert).publicKey)).toBe(true);
  });

  it('a leaf: backdated 5 minutes, validity from the inventory, chain = intermediate, bundle = root, PKCS#8 key; openssl verifies it', () => {
    // Prepare
    const unit = unitOf(inventory, 'web');
    // Act
    const m = issueMaterial(unit, cas.inter, NOW, specHashOf(unit));
    const x = new X509Certificate(m.cert);
    const files = {
      ca: pemFile(dir, 'web-ca.pem', m.ca),
      chain: pemFile(dir, 'web-chain.pem', m.chain),
      cert: pemFile(dir, 'web.pem', m.cert),
      key: pemFile(dir, 'web.key', m.key),
    };
    const verify = openssl(['verify', '-attime', AT, '-purpose', 'sslserver', '-CAfile', files.ca, '-untrusted', files.chain, files.cert]);
    const text = openssl(['x509', '-in', files.cert, '-noout', '-text']).stdout;
    // Assess
    expect(BACKDATE_MS).toBe(5 * 60_000);
    expect(m.notBefore).toBe(new Date(NOW.getTime() - 5 * 60_000).toISOString());
    expect(new Date(x.validFrom).getTime()).toBe(NOW.getTime() - 5 * 60_000);
    expect(m.notAfter).toBe(new Date(NOW.getTime() + 2160 * HOUR).toISOString());
    expect(new Date(x.validTo).toISOString()).toBe(m.notAfter);
    expect(m.chain).toBe(cas.inter.material.cert);
    expect(m.ca).toBe(cas.root.material.cert);
    expect(m.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(m.keyType).toBe('RSA-2048');
    expect(m.serial).toBe(x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''));
    expect(m.fingerprint).toBe(createHash('sha256').update(pemBlocks(m.cert)[0]!).digest('hex'));
    expect(m).toMatchObject({
      type: 'certificate',
      issuer: 'inter',
      issuerFingerprint: cas.inter.material.fingerprint,
      specHash: specHashOf(unit),
    });
    expect(verify.stdout.trim()).toBe(`${files.cert}: OK`);
    expect(extensionOf(text, 'X509v3 Subject Alternative Name')!.value).toBe(
      'DNS:web, DNS:web.shop.svc, URI:spiffe://pki/web, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(text).toMatch(/Subject: CN = web\n/);
  });

  it('clamps a leaf to its issuer: nothing outlives what signed it', () => {
    // Prepare: the intermediate lives 8760h from NOW; `long` asks for 8760h from a day later
    const unit = unitOf(inventory, 'long');
    const later = new Date(NOW.getTime() + 24 * HOUR);
    // Act
    const m = issueMaterial(unit, cas.inter, later, specHashOf(unit));
    // Assess
    const interNotAfter = new Date(new X509Certificate(cas.inter.material.cert).validTo);
    expect(new Date(m.notAfter).getTime()).toBe(interNotAfter.getTime());
    expect(new Date(new X509Certificate(m.cert).validTo).getTime()).toBe(interNotAfter.getTime());
  });

  it('a per-replica unit names its pod: CN <sts>-<i>, SAN <sts>-<i>.<sts>.<ns>.svc plus the item SANs', () => {
    // Prepare
    const unit = unitOf(inventory, 'db', 1);
    // Act
    const m = issueMaterial(unit, cas.inter, NOW, specHashOf(unit));
    const x = new X509Certificate(m.cert);
    // Assess
    expect(x.subject).toBe('CN=db-1');
    expect(x.subjectAltName).toBe('DNS:db-1, DNS:db-1.db.shop.svc, DNS:db');
  });

  it('a leaf directly under a root has an empty chain', () => {
    // Prepare
    const unit = unitOf(inventory, 'both');
    // Act
    const m = issueMaterial(unit, cas.root, NOW, 'h');
    // Assess
    expect(m.chain).toBe('');
    expect(m.ca).toBe(cas.root.material.cert);
    expect(new X509Certificate(m.cert).checkIssued(new X509Certificate(cas.root.material.cert))).toBe(true);
  });

  it('refuses a credential', () => {
    // Prepare
    const inv = pkiInventory();
    const fake = { ...unitOf(inv, 'web'), item: { ...unitOf(inv, 'web').item, kind: 'credential' } } as unknown as Parameters<
      typeof issueMaterial
    >[0];
    // Act + Assess
    expect(() => issueMaterial(fake, undefined, NOW, 'h')).toThrow(/credentials are not certificates/);
  });
});
