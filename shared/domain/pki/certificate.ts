import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { Subject } from '../inventory/model.js';
import type { Usage } from '../inventory/schema.js';
import { signatureAlgorithmFor, type SignatureAlgorithm } from './algorithms.js';
import { bitsOf, derToPem, explicit, fromDer, nullValue, oid, seq, smallInteger, toDer, unsignedInteger, type Asn1 } from './der.js';
import { basicConstraints } from './extensions/basic-constraints.js';
import { extKeyUsage } from './extensions/ext-key-usage.js';
import { authorityKeyIdentifier, keyIdentifier, subjectKeyIdentifier } from './extensions/key-identifiers.js';
import { keyUsage, type KeyUsageName } from './extensions/key-usage.js';
import { subjectAltName, type AltNames } from './extensions/subject-alt-name.js';
import { distinguishedName } from './name.js';
import { spkiDer } from './key-encoding.js';

const { asn1 } = forge;

export type CertificateProfile =
  | { readonly kind: 'authority'; readonly pathLen?: number }
  | { readonly kind: 'leaf'; readonly usage: Usage; readonly altNames: AltNames };

/** The issuing side: a CA certificate and its key, parsed once and reused for every certificate it signs. */
export interface Issuer {
  readonly certificateDer: Buffer;
  readonly subjectName: Asn1;
  readonly keyId: Buffer;
  readonly privateKey: KeyObject;
  readonly notAfter: Date;
}

export interface CertificateRequest {
  readonly subject: Subject;
  readonly publicKey: KeyObject;
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
}

/** SPKI DER split into the ASN.1 node to embed and the raw key bits (for key identifiers). */
function subjectPublicKeyInfo(publicKey: KeyObject): { node: Asn1; keyBits: Buffer } {
  const node = fromDer(spkiDer(publicKey));
  const bitString = (node.value as Asn1[])[1]!;
  const keyBits = Buffer.from((bitString.value as string).slice(1), 'binary');
  return { node, keyBits };
}

function timeOf(date: Date): Asn1 {
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function algorithmIdentifier(alg: SignatureAlgorithm): Asn1 {
  return seq([oid(alg.oid), ...(alg.nullParams ? [nullValue()] : [])]);
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

/** Builds an X.509 v3 certificate with forge's ASN.1 and signs it natively (so ECDSA and Ed25519 work). */
export function buildCertificate(req: CertificateRequest): BuiltCertificate {
  const signingKey = req.issuer?.privateKey ?? req.selfSigningKey;
  if (!signingKey) throw new Error('a self-signed certificate needs selfSigningKey');
  const alg = signatureAlgorithmFor(signingKey);
  const spki = subjectPublicKeyInfo(req.publicKey);
  const subjectName = distinguishedName(req.subject);
  const ownKeyId = keyIdentifier(spki.keyBits);
  const serial = req.serial ?? randomBytes(16);

  const extensions: Asn1[] = [];
  if (req.profile.kind === 'authority') {
    extensions.push(
      basicConstraints(req.profile.pathLen === undefined ? { ca: true } : { ca: true, pathLen: req.profile.pathLen }),
      keyUsage(['digitalSignature', 'keyCertSign', 'cRLSign']),
    );
  } else {
    extensions.push(basicConstraints({ ca: false }), keyUsage(leafKeyUsages(req.publicKey.asymmetricKeyType, req.profile.usage)), extKeyUsage(req.profile.usage));
    const san = subjectAltName(req.profile.altNames);
    if (san) extensions.push(san);
  }
  extensions.push(subjectKeyIdentifier(ownKeyId), authorityKeyIdentifier(req.issuer?.keyId ?? ownKeyId));

  const tbs = seq([
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    algorithmIdentifier(alg),
    req.issuer?.subjectName ?? subjectName,
    seq([timeOf(req.notBefore), timeOf(req.notAfter)]),
    subjectName,
    spki.node,
    explicit(3, seq(extensions)),
  ]);
  const tbsDer = toDer(tbs);
  const signature = sign(alg.digest, tbsDer, signingKey);
  const der = toDer(seq([tbs, algorithmIdentifier(alg), bitsOf(signature)]));
  return {
    der,
    pem: derToPem(der, 'CERTIFICATE'),
    serialHex: serial.toString('hex').replace(/^0+(?=.)/, ''),
    fingerprint: createHash('sha256').update(der).digest('hex'),
  };
}

/** Prepares a CA certificate and key for signing: its subject name as encoded, its key identifier, its expiry. */
export function issuerFrom(certificateDer: Buffer, privateKey: KeyObject, notAfter: Date): Issuer {
  const cert = fromDer(certificateDer);
  const tbs = (cert.value as Asn1[])[0]!;
  const fields = tbs.value as Asn1[];
  const hasVersion = fields[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC;
  const subjectName = fields[hasVersion ? 5 : 4]!;
  const spki = fields[hasVersion ? 6 : 5]!;
  const keyBits = Buffer.from(((spki.value as Asn1[])[1]!.value as string).slice(1), 'binary');
  return { certificateDer, subjectName, keyId: keyIdentifier(keyBits), privateKey, notAfter };
}
