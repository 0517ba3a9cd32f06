import { createHash, KeyObject, randomBytes, sign } from 'node:crypto';
import type { Subject } from '../inventory/model.js';
import type { Usage } from '../inventory/schema.js';
import { signatureAlgorithmFor, type SignatureAlgorithm } from './algorithms.js';
import {
  bitString,
  children,
  contentOf,
  explicitTag,
  NULL,
  objectId,
  pem,
  sequence,
  smallInteger,
  time,
  unsignedInteger,
} from './der-writer.js';
import { basicConstraints } from './extensions/basic-constraints.js';
import { crlDistributionPoints } from './extensions/crl-distribution-points.js';
import { extKeyUsage } from './extensions/ext-key-usage.js';
import { authorityKeyIdentifier, keyIdentifier, subjectKeyIdentifier } from './extensions/key-identifiers.js';
import { keyUsage, type KeyUsageName } from './extensions/key-usage.js';
import { subjectAltName, type AltNames } from './extensions/subject-alt-name.js';
import { distinguishedName } from './name.js';
import { encodedPublicKey, type EncodedPublicKey } from './key-encoding.js';

export type CertificateProfile =
  | { readonly kind: 'authority'; readonly pathLen?: number }
  | {
      readonly kind: 'leaf';
      readonly usage: Usage;
      readonly altNames: AltNames;
      /** A URI where the issuer's CRL is published (cRLDistributionPoints); none by default. */
      readonly crlDistributionPoint?: string;
    };

/** The issuing side: a CA certificate and its key, parsed once and reused for every certificate it signs. */
export interface Issuer {
  readonly certificateDer: Buffer;
  /** Its subject name, DER, as encoded in its certificate (a child's issuer name must match it byte for byte). */
  readonly subjectName: Buffer;
  readonly keyId: Buffer;
  readonly privateKey: KeyObject;
  readonly notAfter: Date;
}

export interface CertificateRequest {
  readonly subject: Subject;
  /** The subject's key: a key object, or already encoded (a key made by `generateIssuedKey`). */
  readonly publicKey: KeyObject | EncodedPublicKey;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly profile: CertificateProfile;
  /**
   * Who signs. Self-signed (a root) when `issuer` is undefined: then `selfSigningKey` signs.
   * Default serial: 128 random bits.
   */
  readonly issuer?: Issuer;
  readonly selfSigningKey?: KeyObject;
  readonly serial?: Buffer;
}

export interface BuiltCertificate {
  readonly der: Buffer;
  readonly pem: string;
  readonly serialHex: string;
  readonly fingerprint: string;
  /** The signed part and its signature, as written into `der`: a signature check needs no parse. */
  readonly tbs: Buffer;
  readonly signature: Buffer;
  readonly digest: SignatureAlgorithm['digest'];
}

const V3 = explicitTag(0, smallInteger(2));
const algorithmIdentifiers = new Map<string, Buffer>();
function algorithmIdentifier(alg: SignatureAlgorithm): Buffer {
  let hit = algorithmIdentifiers.get(alg.oid);
  if (!hit) {
    hit = sequence(alg.nullParams ? [objectId(alg.oid), NULL] : [objectId(alg.oid)]);
    algorithmIdentifiers.set(alg.oid, hit);
  }
  return hit;
}

/**
 * Key usages of a leaf, by key type and usage. Every leaf signs (TLS 1.3, ECDHE). An RSA server key may also
 * receive the premaster secret of TLS 1.2's RSA key exchange, so it gets keyEncipherment; a client never does,
 * and RFC 5280 §4.2.1.12 calls keyEncipherment inconsistent with clientAuth alone (zlint
 * e_key_usage_and_extended_key_usage_inconsistent). EC and Ed25519 keys only sign.
 */
export function leafKeyUsages(keyType: KeyObject['asymmetricKeyType'], usage: Usage): KeyUsageName[] {
  if (keyType !== 'rsa') return ['digitalSignature'];
  switch (usage) {
    case 'client':
      return ['digitalSignature'];
    case 'server':
    case 'clientserver':
      return ['digitalSignature', 'keyEncipherment'];
    default: {
      const never: never = usage;
      throw new Error(`unknown usage ${String(never)}`);
    }
  }
}

/** Builds an X.509 v3 certificate with a DER encoder of its own and signs it natively (so ECDSA and Ed25519 work). */
export function buildCertificate(req: CertificateRequest): BuiltCertificate {
  const signingKey = req.issuer?.privateKey ?? req.selfSigningKey;
  if (!signingKey) throw new Error('a self-signed certificate needs selfSigningKey');
  const alg = signatureAlgorithmFor(signingKey);
  const publicKey = req.publicKey instanceof KeyObject ? encodedPublicKey(req.publicKey) : req.publicKey;
  const subjectName = distinguishedName(req.subject);
  const ownKeyId = keyIdentifier(publicKey.bits);
  const serial = req.serial ?? randomBytes(16);

  const extensions: Buffer[] = [];
  if (req.profile.kind === 'authority') {
    extensions.push(
      basicConstraints(req.profile.pathLen === undefined ? { ca: true } : { ca: true, pathLen: req.profile.pathLen }),
      keyUsage(['digitalSignature', 'keyCertSign', 'cRLSign']),
    );
  } else {
    extensions.push(
      basicConstraints({ ca: false }),
      keyUsage(leafKeyUsages(publicKey.type, req.profile.usage)),
      extKeyUsage(req.profile.usage),
    );
    const san = subjectAltName(req.profile.altNames);
    if (san) extensions.push(san);
    if (req.profile.crlDistributionPoint) extensions.push(crlDistributionPoints(req.profile.crlDistributionPoint));
  }
  extensions.push(subjectKeyIdentifier(ownKeyId), authorityKeyIdentifier(req.issuer?.keyId ?? ownKeyId));

  const signatureAlgorithm = algorithmIdentifier(alg);
  const tbs = sequence([
    V3,
    unsignedInteger(serial),
    signatureAlgorithm,
    req.issuer?.subjectName ?? subjectName,
    sequence([time(req.notBefore), time(req.notAfter)]),
    subjectName,
    publicKey.spki,
    explicitTag(3, sequence(extensions)),
  ]);
  const signature = sign(alg.digest, tbs, signingKey);
  const der = sequence([tbs, signatureAlgorithm, bitString(signature)]);
  return {
    der,
    pem: pem(der, 'CERTIFICATE'),
    serialHex: serial.toString('hex').replace(/^0+(?=.)/, ''),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    tbs,
    signature,
    digest: alg.digest,
  };
}

/** Prepares a CA certificate and key for signing: its subject name as encoded, its key identifier, its expiry. */
export function issuerFrom(certificateDer: Buffer, privateKey: KeyObject, notAfter: Date): Issuer {
  const tbs = children(certificateDer)[0];
  if (!tbs) throw new Error('not a certificate: no TBSCertificate');
  const fields = children(tbs);
  // [0] EXPLICIT version is present in v2/v3 certificates.
  const hasVersion = fields[0]?.[0] === 0xa0;
  const subjectName = fields[hasVersion ? 5 : 4];
  const spki = fields[hasVersion ? 6 : 5];
  if (!subjectName || !spki) throw new Error('not a certificate: TBSCertificate is too short');
  const bitStringTlv = children(spki)[1];
  if (!bitStringTlv) throw new Error('not a certificate: SubjectPublicKeyInfo has no key');
  const keyBits = contentOf(bitStringTlv).subarray(1);
  return { certificateDer, subjectName, keyId: keyIdentifier(keyBits), privateKey, notAfter };
}
