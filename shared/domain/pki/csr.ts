import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { OID } from './algorithms.js';
import { fromDer, pemBlocks, toDer, type Asn1 } from './der.js';
import type { AltNames } from './extensions/subject-alt-name.js';
import { defined } from '../defined.js';

const { asn1 } = forge;
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const SUBJECT_ALT_NAME = '2.5.29.17';
const COMMON_NAME = '2.5.4.3';

/** Signature algorithms a CSR may be signed with, and the digest node:crypto verifies them with. */
const VERIFY_DIGEST: Readonly<Record<string, string | null>> = {
  [OID.sha256WithRSA]: 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  [OID.ed25519]: null,
};

/** What a CSR asks for, and whether its signature verifies with the key it carries. */
export interface ParsedCsr {
  readonly commonName?: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
  readonly publicKey: KeyObject;
  readonly signatureValid: boolean;
}

/** Thrown for text that is not a PKCS#10 request at all. */
export class CsrFormatError extends Error {
  override readonly name = 'CsrFormatError';
}

const oidOf = (node: Asn1): string => asn1.derToOid(forge.util.createBuffer(node.value as string));
const children = (node: Asn1 | undefined): Asn1[] => (Array.isArray(node?.value) ? node.value : []);

function ipText(bytes: string): string {
  const b = Buffer.from(bytes, 'binary');
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < b.length; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups
    .join(':')
    .replace(/\b(?:0:){2,}0?\b/, ':')
    .replace(/:{3,}/, '::');
}

function altNamesOf(attributes: Asn1[]): AltNames {
  const names = { dnsNames: [] as string[], ipAddresses: [] as string[], uris: [] as string[] };
  for (const attr of attributes) {
    const [type, values] = children(attr);
    if (!type || oidOf(type) !== EXTENSION_REQUEST) continue;
    for (const ext of children(children(values)[0])) {
      const parts = children(ext);
      if (!parts[0] || oidOf(parts[0]) !== SUBJECT_ALT_NAME) continue;
      const value = defined(parts[parts.length - 1]);
      const general = fromDer(Buffer.from(value.value as string, 'binary'));
      for (const g of children(general)) {
        if (g.type === 2) names.dnsNames.push(g.value as string);
        else if (g.type === 6) names.uris.push(g.value as string);
        else if (g.type === 7) names.ipAddresses.push(ipText(g.value as string));
      }
    }
  }
  return names;
}

/** Parses a PEM CSR and checks its self-signature (proof that the requester holds the key). */
export function parseCsr(pem: string): ParsedCsr {
  const der = pemBlocks(pem, 'CERTIFICATE REQUEST')[0] ?? pemBlocks(pem, 'NEW CERTIFICATE REQUEST')[0];
  if (!der) throw new CsrFormatError('not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)');
  let root: Asn1;
  try {
    root = fromDer(der);
  } catch {
    throw new CsrFormatError('the certificate request is not valid DER');
  }
  const [info, algId, signature] = children(root);
  const [, subject, spki, attributes] = children(info);
  if (!info || !algId || !signature || !subject || !spki) throw new CsrFormatError('the certificate request is not PKCS#10');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: toDer(spki), format: 'der', type: 'spki' });
  } catch {
    throw new CsrFormatError('the certificate request carries no usable public key');
  }
  let commonName: string | undefined;
  for (const rdn of children(subject)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (type && value && oidOf(type) === COMMON_NAME) commonName = forge.util.decodeUtf8(value.value as string);
    }
  }
  const algOid = children(algId)[0];
  const digest = algOid ? VERIFY_DIGEST[oidOf(algOid)] : undefined;
  let signatureValid = false;
  if (digest !== undefined) {
    try {
      signatureValid = verify(digest, toDer(info), publicKey, Buffer.from((signature.value as string).slice(1), 'binary'));
    } catch {
      signatureValid = false;
    }
  }
  return { ...(commonName !== undefined && { commonName }), ...altNamesOf(children(attributes)), publicKey, signatureValid };
}

// Forge-free parts (the functions load them at cold start; this module loads node-forge).
export { buildCsr } from './csr-build.js';
export { isSelfSigned, splitPemChain } from './pem.js';
