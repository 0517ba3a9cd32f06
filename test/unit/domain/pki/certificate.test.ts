import { generateKeyPair as generateKeyPairAsync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyType, Usage } from '../../../../shared/domain/inventory/schema.js';
import { KEY_TYPES, USAGES } from '../../../../shared/domain/inventory/schema.js';
import { buildCertificate, issuerFrom, type BuiltCertificate, type Issuer } from '../../../../shared/domain/pki/certificate.js';
import { generateKeyPair, keyTypeOf, privateKeyToPem, type KeyPair } from '../../../../shared/domain/pki/keys.js';
import { extensionOf, hexOf, openssl, pemFile, x509Text } from '../../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/**
 * Every key type as root, as intermediate and as leaf, and every (leaf key type, usage) pair, checked by the real
 * openssl. Chain i uses key types K[i] (root), K[i+1] (intermediate), K[i+2+u] (leaf of usage u), so with one
 * key per type (RSA-4096 is slow to generate) each role sees each type and no chain reuses a key.
 */

const NOW = new Date('2030-06-15T12:00:00Z');
const AT = String(Math.floor(NOW.getTime() / 1000));
const DAY = 86_400_000;
const DNS = ['leaf.rekey.test', '*.leaf.rekey.test'];
const IPS = ['127.0.0.1', '::1', '2001:db8::7'];
const URIS = ['spiffe://rekey.test/ns/shop/sa/leaf'];

const SIGNATURE_NAME: Record<KeyType, RegExp> = {
  'RSA-2048': /sha256WithRSAEncryption/,
  'RSA-3072': /sha256WithRSAEncryption/,
  'RSA-4096': /sha256WithRSAEncryption/,
  'ECDSA-P256': /ecdsa-with-SHA256/,
  'ECDSA-P384': /ecdsa-with-SHA384/,
  Ed25519: /ED25519/i,
};
const EKU_TEXT: Record<Usage, string[]> = {
  server: ['TLS Web Server Authentication'],
  client: ['TLS Web Client Authentication'],
  clientserver: ['TLS Web Server Authentication', 'TLS Web Client Authentication'],
};
const RIGHT_PURPOSES: Record<Usage, string[]> = { server: ['sslserver'], client: ['sslclient'], clientserver: ['sslserver', 'sslclient'] };
const WRONG_PURPOSES: Record<Usage, string[]> = { server: ['sslclient'], client: ['sslserver'], clientserver: [] };

interface Files {
  readonly cert: string;
  readonly key: string;
  readonly built: BuiltCertificate;
}
interface Chain {
  readonly index: number;
  readonly rootType: KeyType;
  readonly interType: KeyType;
  readonly root: Files;
  readonly inter: Files;
  readonly leaves: Record<Usage, Files & { readonly type: KeyType }>;
}

const typeAt = (i: number): KeyType => KEY_TYPES[i % KEY_TYPES.length]!;
const texts = new Map<string, string>();
/** `x509 -text -pubkey` once per file (each openssl call costs a process). */
const textOf = (path: string): string => {
  let t = texts.get(path);
  if (t === undefined) {
    const r = openssl(['x509', '-in', path, '-noout', '-text', '-pubkey']);
    if (r.status !== 0) throw new Error(r.stderr);
    t = r.stdout;
    texts.set(path, t);
  }
  return t;
};
const pubkeyOfText = (text: string): string => /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----\n/.exec(text)![0];
const pubkeys = new Map<string, string>();
/** `pkey -pubout` of a key file; the pool has one key per type, so each is asked once. */
const pubkeyOfKey = (keyPath: string): string => {
  const pem = readFileSync(keyPath, 'utf8');
  let p = pubkeys.get(pem);
  if (p === undefined) {
    p = openssl(['pkey', '-in', keyPath, '-pubout']).stdout;
    pubkeys.set(pem, p);
  }
  return p;
};
let dir: string;
const keys = new Map<KeyType, KeyPair>();
const chains: Chain[] = [];

function write(name: string, built: BuiltCertificate, pair: KeyPair): Files {
  return { cert: pemFile(dir, `${name}.crt`, built.pem), key: pemFile(dir, `${name}.key`, privateKeyToPem(pair.privateKey)), built };
}

beforeAll(async () => {
  dir = await makeTempDir('rekey-pki-');
  // RSA keys on the thread pool, in parallel (RSA-4096 alone takes seconds); the rest through rekey's own keygen.
  const rsa = (bits: number) => promisify(generateKeyPairAsync)('rsa', { modulusLength: bits });
  const [r2048, r3072, r4096] = await Promise.all([rsa(2048), rsa(3072), rsa(4096)]);
  for (const [t, pair] of [
    ['RSA-2048', r2048],
    ['RSA-3072', r3072],
    ['RSA-4096', r4096],
  ] as const)
    keys.set(t, pair);
  for (const t of KEY_TYPES) if (!keys.has(t)) keys.set(t, generateKeyPair(t));
  for (const [t, pair] of keys) expect(keyTypeOf(pair.privateKey)).toBe(t);
  for (let i = 0; i < KEY_TYPES.length; i++) {
    const rootType = typeAt(i);
    const interType = typeAt(i + 1);
    const rootKeys = keys.get(rootType)!;
    const interKeys = keys.get(interType)!;
    const rootBuilt = buildCertificate({
      subject: { commonName: `root ${rootType}`, organization: ['rekey tests'] },
      publicKey: rootKeys.publicKey,
      notBefore: new Date(NOW.getTime() - DAY),
      notAfter: new Date(NOW.getTime() + 3650 * DAY),
      profile: { kind: 'authority' },
      selfSigningKey: rootKeys.privateKey,
    });
    const rootIssuer: Issuer = issuerFrom(rootBuilt.der, rootKeys.privateKey, new Date(NOW.getTime() + 3650 * DAY));
    const interBuilt = buildCertificate({
      subject: { commonName: `intermediate ${interType}`, organizationalUnit: ['pki'] },
      publicKey: interKeys.publicKey,
      notBefore: new Date(NOW.getTime() - DAY),
      notAfter: new Date(NOW.getTime() + 1825 * DAY),
      profile: { kind: 'authority', pathLen: 0 },
      issuer: rootIssuer,
    });
    const interIssuer = issuerFrom(interBuilt.der, interKeys.privateKey, new Date(NOW.getTime() + 1825 * DAY));
    const leaves = {} as Chain['leaves'];
    USAGES.forEach((usage, u) => {
      const type = typeAt(i + 2 + u);
      const built = buildCertificate({
        subject: { commonName: `leaf-${usage}` },
        publicKey: keys.get(type)!.publicKey,
        notBefore: new Date(NOW.getTime() - 5 * 60_000),
        notAfter: new Date(NOW.getTime() + 90 * DAY),
        profile: { kind: 'leaf', usage, altNames: { dnsNames: DNS, ipAddresses: IPS, uris: URIS } },
        issuer: interIssuer,
      });
      leaves[usage] = { ...write(`chain${i}-leaf-${usage}`, built, keys.get(type)!), type };
    });
    chains.push({
      index: i,
      rootType,
      interType,
      root: write(`chain${i}-root`, rootBuilt, rootKeys),
      inter: write(`chain${i}-inter`, interBuilt, interKeys),
      leaves,
    });
  }
}, 60_000);

afterAll(() => removeTempDir(dir));

const leafCases = KEY_TYPES.flatMap((_, i) =>
  USAGES.map((usage, u) => ({ chain: i, usage, root: typeAt(i), inter: typeAt(i + 1), leaf: typeAt(i + 2 + u) })),
);

describe('buildCertificate: root -> intermediate (pathLen 0) -> leaf, checked by openssl', () => {
  it('covers every key type in every role and every (leaf key type, usage) pair', () => {
    expect(new Set(leafCases.map((c) => c.root)).size).toBe(6);
    expect(new Set(leafCases.map((c) => c.inter)).size).toBe(6);
    expect(new Set(leafCases.map((c) => `${c.leaf}/${c.usage}`)).size).toBe(18);
  });

  it.each(leafCases)(
    '$leaf $usage leaf under $inter intermediate under $root root: openssl verify accepts the right purpose, refuses the wrong one',
    ({ chain, usage }) => {
      // Prepare
      const c = chains[chain]!;
      const leaf = c.leaves[usage];
      const verify = (purpose: string) =>
        openssl(['verify', '-attime', AT, '-purpose', purpose, '-CAfile', c.root.cert, '-untrusted', c.inter.cert, leaf.cert]);
      // Act
      const right = RIGHT_PURPOSES[usage].map(verify);
      const wrong = WRONG_PURPOSES[usage].map(verify);
      // Assess
      for (const r of right) {
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(r.stdout.trim()).toBe(`${leaf.cert}: OK`);
      }
      for (const r of wrong) {
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toMatch(/error 26 at 0 depth lookup: unsuitable certificate purpose/);
      }
    },
  );

  it.each(leafCases)(
    '$leaf $usage leaf (chain $chain): extensions, names, key identifiers, signature and key as openssl reads them',
    ({ chain, usage, leaf: leafType }) => {
      // Prepare
      const c = chains[chain]!;
      const leaf = c.leaves[usage];
      // Act
      const text = textOf(leaf.cert);
      const interText = textOf(c.inter.cert);
      const fromCert = pubkeyOfText(text);
      const fromKey = pubkeyOfKey(leaf.key);
      // Assess: basic constraints, key usage, EKU
      expect(extensionOf(text, 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:FALSE' });
      const ku = extensionOf(text, 'X509v3 Key Usage')!;
      expect(ku.critical).toBe(true);
      // RSA servers may take TLS 1.2's RSA key exchange; a client only signs (RFC 5280 §4.2.1.12, zlint)
      expect(ku.value).toBe(leafType.startsWith('RSA') && usage !== 'client' ? 'Digital Signature, Key Encipherment' : 'Digital Signature');
      expect(extensionOf(text, 'X509v3 Extended Key Usage')!.value.split(', ')).toEqual(EKU_TEXT[usage]);
      // SANs: DNS (with a wildcard), URI, IPv4 and IPv6
      const san = extensionOf(text, 'X509v3 Subject Alternative Name')!.value.split(', ');
      expect(san).toEqual([
        'DNS:leaf.rekey.test',
        'DNS:*.leaf.rekey.test',
        `URI:${URIS[0]}`,
        'IP Address:127.0.0.1',
        'IP Address:0:0:0:0:0:0:0:1',
        'IP Address:2001:DB8:0:0:0:0:0:7',
      ]);
      // AKI of the leaf is the SKI of the intermediate
      const aki = hexOf(extensionOf(text, 'X509v3 Authority Key Identifier')!.value);
      expect(aki).toBe(hexOf(extensionOf(interText, 'X509v3 Subject Key Identifier')!.value));
      expect(hexOf(extensionOf(text, 'X509v3 Subject Key Identifier')!.value)).toMatch(/^[0-9A-F]{40}$/);
      // subject, issuer, signature algorithm of the issuer's key, version 3
      expect(text).toMatch(/Version: 3 \(0x2\)/);
      expect(text).toMatch(new RegExp(`Subject: CN = leaf-${usage}\\n`));
      expect(text).toMatch(new RegExp(`Issuer: OU = pki, CN = intermediate ${c.interType}\\n`));
      expect(text).toMatch(SIGNATURE_NAME[c.interType]);
      // the private key belongs to the certificate
      expect(fromCert).toBe(fromKey);
    },
  );

  it.each(KEY_TYPES.map((t, i) => ({ chain: i, root: t, inter: typeAt(i + 1) })))(
    'authorities of chain $chain ($root root, $inter intermediate): CA:TRUE, pathlen, CA key usages, self-signed root',
    ({ chain }) => {
      // Prepare
      const c = chains[chain]!;
      // Act
      const rootText = textOf(c.root.cert);
      const interText = textOf(c.inter.cert);
      const rootVerify = openssl(['verify', '-attime', AT, '-CAfile', c.root.cert, c.root.cert]);
      const interVerify = openssl(['verify', '-attime', AT, '-CAfile', c.root.cert, c.inter.cert]);
      // Assess
      expect(extensionOf(rootText, 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:TRUE' });
      expect(extensionOf(interText, 'X509v3 Basic Constraints')).toEqual({ critical: true, value: 'CA:TRUE, pathlen:0' });
      for (const text of [rootText, interText]) {
        const ku = extensionOf(text, 'X509v3 Key Usage')!;
        expect(ku.critical).toBe(true);
        expect(ku.value.split(', ')).toEqual(expect.arrayContaining(['Certificate Sign', 'CRL Sign']));
        expect(extensionOf(text, 'X509v3 Extended Key Usage')).toBeUndefined();
        expect(extensionOf(text, 'X509v3 Subject Alternative Name')).toBeUndefined();
      }
      // a root's AKI is its own SKI; the intermediate's AKI is the root's SKI
      const rootSki = hexOf(extensionOf(rootText, 'X509v3 Subject Key Identifier')!.value);
      expect(hexOf(extensionOf(rootText, 'X509v3 Authority Key Identifier')!.value)).toBe(rootSki);
      expect(hexOf(extensionOf(interText, 'X509v3 Authority Key Identifier')!.value)).toBe(rootSki);
      expect(rootText).toMatch(new RegExp(`Subject: O = rekey tests, CN = root ${c.rootType}\\n`));
      expect(rootText).toMatch(new RegExp(`Issuer: O = rekey tests, CN = root ${c.rootType}\\n`));
      expect(rootText).toMatch(SIGNATURE_NAME[c.rootType]);
      expect(interText).toMatch(SIGNATURE_NAME[c.rootType]);
      expect(rootVerify.status).toBe(0);
      expect(interVerify.status).toBe(0);
      expect(pubkeyOfText(interText)).toBe(pubkeyOfKey(c.inter.key));
      expect(pubkeyOfText(rootText)).toBe(pubkeyOfKey(c.root.key));
    },
  );

  it('pathLen 0 is enforced: openssl refuses a CA below the intermediate', () => {
    // Prepare: a sub-CA signed by chain 0's intermediate (pathLen 0), and a leaf under it
    const c = chains[0]!;
    const interKey = keys.get(c.interType)!;
    const subKey = keys.get('ECDSA-P256')!;
    const interIssuer = issuerFrom(c.inter.built.der, interKey.privateKey, new Date(NOW.getTime() + 1825 * DAY));
    const sub = buildCertificate({
      subject: { commonName: 'too deep' },
      publicKey: subKey.publicKey,
      notBefore: new Date(NOW.getTime() - DAY),
      notAfter: new Date(NOW.getTime() + 100 * DAY),
      profile: { kind: 'authority' },
      issuer: interIssuer,
    });
    const leafKey = keys.get('Ed25519')!;
    const leaf = buildCertificate({
      subject: { commonName: 'under too deep' },
      publicKey: leafKey.publicKey,
      notBefore: new Date(NOW.getTime() - DAY),
      notAfter: new Date(NOW.getTime() + 10 * DAY),
      profile: { kind: 'leaf', usage: 'server', altNames: { dnsNames: ['x'], ipAddresses: [], uris: [] } },
      issuer: issuerFrom(sub.der, subKey.privateKey, new Date(NOW.getTime() + 100 * DAY)),
    });
    const untrusted = pemFile(dir, 'deep-untrusted.pem', c.inter.built.pem + sub.pem);
    const leafFile = pemFile(dir, 'deep-leaf.pem', leaf.pem);
    // Act
    const r = openssl(['verify', '-attime', AT, '-CAfile', c.root.cert, '-untrusted', untrusted, leafFile]);
    // Assess
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/path length constraint exceeded/);
  });

  it('a leaf is refused when presented without its intermediate, or against another root', () => {
    // Prepare
    const [a, b] = [chains[0]!, chains[1]!];
    // Act
    const noIntermediate = openssl(['verify', '-attime', AT, '-CAfile', a.root.cert, a.leaves.server.cert]);
    const otherRoot = openssl(['verify', '-attime', AT, '-CAfile', b.root.cert, '-untrusted', a.inter.cert, a.leaves.server.cert]);
    // Assess
    expect(noIntermediate.status).not.toBe(0);
    expect(otherRoot.status).not.toBe(0);
  });
});

describe('buildCertificate details', () => {
  it('serials are 128 random bits, positive, and distinct across many certificates', () => {
    // Prepare
    const pair = keys.get('ECDSA-P256')!;
    const serials = new Set<string>();
    let topBitSet = 0;
    // Act
    for (let i = 0; i < 400; i++) {
      const built = buildCertificate({
        subject: { commonName: `s${i}` },
        publicKey: pair.publicKey,
        notBefore: NOW,
        notAfter: new Date(NOW.getTime() + DAY),
        profile: { kind: 'leaf', usage: 'server', altNames: { dnsNames: [], ipAddresses: [], uris: [] } },
        selfSigningKey: pair.privateKey,
      });
      const x = new X509Certificate(built.der);
      const nodeSerial = x.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
      expect(nodeSerial).toBe(built.serialHex);
      expect(built.serialHex.length).toBeLessThanOrEqual(32);
      // DER needs a leading 00 byte to keep such a serial positive: 2 (tag, length) + 17 bytes
      if (built.serialHex.length === 32 && parseInt(built.serialHex[0]!, 16) >= 8) {
        topBitSet++;
        expect(built.der.includes(Buffer.from(`021100${built.serialHex}`, 'hex'))).toBe(true);
      }
      serials.add(built.serialHex);
    }
    // Assess: about half have the top bit set (random), none collide
    expect(serials.size).toBe(400);
    expect(topBitSet).toBeGreaterThan(120);
    expect(topBitSet).toBeLessThan(280);
  });

  it.each([
    ['all ones (top bit set)', 'ff'.repeat(16), /Serial Number:\s+ff(:ff){15}\n/],
    ['leading zero bytes', '0000' + '01'.repeat(14), /Serial Number:\s+(01:){13}01\n|Serial Number: \d+ \(0x[0-9a-f]+\)/],
  ])('an explicit serial with %s is encoded as a positive integer openssl reads back', (_label, hex, expected) => {
    // Prepare
    const pair = keys.get('Ed25519')!;
    const built = buildCertificate({
      subject: { commonName: 'serial' },
      publicKey: pair.publicKey,
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + DAY),
      profile: { kind: 'authority' },
      selfSigningKey: pair.privateKey,
      serial: Buffer.from(hex, 'hex'),
    });
    // Act
    const text = x509Text(pemFile(dir, `serial-${hex.slice(0, 4)}.crt`, built.pem));
    // Assess
    expect(text).toMatch(expected);
    expect(text).not.toMatch(/Negative/);
    expect(built.serialHex).toBe(hex.replace(/^0+/, ''));
  });

  it('dates after 2049 are GeneralizedTime, before are UTCTime; openssl and node read both', () => {
    // Prepare
    const pair = keys.get('ECDSA-P384')!;
    const notBefore = new Date('2049-12-31T23:59:59Z');
    const notAfter = new Date('2051-01-02T03:04:05Z');
    // Act
    const built = buildCertificate({
      subject: { commonName: 'long' },
      publicKey: pair.publicKey,
      notBefore,
      notAfter,
      profile: { kind: 'authority', pathLen: 2 },
      selfSigningKey: pair.privateKey,
    });
    const text = x509Text(pemFile(dir, 'long.crt', built.pem));
    const x = new X509Certificate(built.pem);
    // Assess
    expect(new Date(x.validFrom).toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(new Date(x.validTo).toISOString()).toBe('2051-01-02T03:04:05.000Z');
    expect(text).toMatch(/Not Before: Dec 31 23:59:59 2049 GMT/);
    expect(text).toMatch(/Not After : Jan {2}2 03:04:05 2051 GMT/);
    expect(extensionOf(text, 'X509v3 Basic Constraints')!.value).toBe('CA:TRUE, pathlen:2');
    // UTCTime tag 0x17 for 2049, GeneralizedTime tag 0x18 for 2051
    expect(built.der.includes(Buffer.from('17 0d 34 39 31 32 33 31'.replace(/ /g, ''), 'hex'))).toBe(true);
    expect(built.der.includes(Buffer.from('180f32303531', 'hex'))).toBe(true);
  });

  it('the fingerprint is the SHA-256 of the DER, as openssl prints it', () => {
    // Prepare
    const leaf = chains[2]!.leaves.clientserver;
    // Act
    const r = openssl(['x509', '-in', leaf.cert, '-noout', '-fingerprint', '-sha256']);
    // Assess
    expect(hexOf(r.stdout.split('=')[1]!)).toBe(leaf.built.fingerprint.toUpperCase());
  });

  it('a self-signed certificate without a signing key is refused', () => {
    const pair = keys.get('ECDSA-P256')!;
    expect(() =>
      buildCertificate({
        subject: { commonName: 'x' },
        publicKey: pair.publicKey,
        notBefore: NOW,
        notAfter: NOW,
        profile: { kind: 'authority' },
      }),
    ).toThrow(/selfSigningKey/);
  });
});
