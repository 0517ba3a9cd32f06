import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Unit } from '../units.js';
import type { CertificateMaterial } from '../store/material.js';
import { pemBlocks } from './pem.js';
import { ekuOf } from './eku.js';
import { ekuOids } from './extensions/ext-key-usage.js';
import { ecKeyMatchesCertificate } from './key-match.js';
import { privateKeyFromPem } from './keys.js';
import { pathLengthProblems } from './path-length.js';
import { defined } from '../defined.js';

interface ParsedCa {
  readonly cert: X509Certificate;
  readonly publicKey: KeyObject;
}

/**
 * Issuer certificates parsed once: every leaf of a CA carries the same chain and bundle text, and parsing them
 * again for each leaf cost more than issuing it. Bounded: an entry is a CA's PEM, a few hundred bytes.
 */
const parsedCas = new Map<string, ParsedCa[]>();
const PARSED_CAS_MAX = 256;

function certificatesOfPem(pem: string): ParsedCa[] {
  let hit = parsedCas.get(pem);
  if (!hit) {
    hit = pemBlocks(pem).map((d) => {
      const cert = new X509Certificate(d);
      return { cert, publicKey: cert.publicKey };
    });
    if (parsedCas.size >= PARSED_CAS_MAX) parsedCas.delete(defined(parsedCas.keys().next().value));
    parsedCas.set(pem, hit);
  }
  return hit;
}

/** Whether the key matches the certificate: by hand for EC keys (OpenSSL's PEM decoders cost ~1.5 ms a key), else natively. */
function keyMatches(leaf: X509Certificate, keyPem: string): boolean {
  return ecKeyMatchesCertificate(leaf.raw, keyPem) ?? leaf.checkPrivateKey(privateKeyFromPem(keyPem));
}

/**
 * The rotation's `test` step for a certificate: the chain leads to the trust bundle, the key matches, usages and
 * SANs are what the inventory asks for, and it is valid now. Returns the problems found (empty: good).
 */
export function checkCertificateMaterial(unit: Unit, m: CertificateMaterial, now: Date): string[] {
  const problems: string[] = [];
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(m.cert);
  } catch {
    return ['certificate does not parse'];
  }
  // An external authority's version holds no key: the CA keeps it.
  const keyless = unit.item.kind === 'authority' && unit.item.external !== undefined && m.key === '';
  try {
    if (!keyless && !keyMatches(leaf, m.key)) problems.push('private key does not match the certificate');
  } catch {
    problems.push('private key does not parse');
  }
  if (new Date(leaf.validFrom) > now || new Date(leaf.validTo) <= now)
    problems.push(`not valid now (${leaf.validFrom} .. ${leaf.validTo})`);

  // Walk leaf -> intermediates -> a root in the bundle, checking each signature.
  const intermediates = certificatesOfPem(m.chain);
  const roots = certificatesOfPem(m.ca);
  let cur = leaf;
  const path = [leaf];
  for (let depth = 0; depth < 10; depth++) {
    const at = cur;
    const root = roots.find((r) => at.checkIssued(r.cert) && at.verify(r.publicKey));
    if (root) {
      if (root.cert.fingerprint256 !== at.fingerprint256) path.push(root.cert);
      problems.push(...pathLengthProblems(path));
      break;
    }
    const next = intermediates.find((c) => at.checkIssued(c.cert) && at.verify(c.publicKey));
    if (!next || next.cert === cur) {
      problems.push('chain does not lead to a certificate in the trust bundle');
      break;
    }
    cur = next.cert;
    path.push(next.cert);
  }

  const item = unit.item;
  if (item.kind === 'certificate') problems.push(...leafFitProblems(unit, leaf));
  else if (item.kind === 'authority' && !leaf.ca) problems.push('an authority certificate must be a CA');
  return problems;
}

/**
 * Whether a leaf certificate is fit for what the inventory says of its unit: not a CA, the extended key usages of
 * its usage, and every DNS name and IP address it must carry. `ekuOptional`: a certificate without an EKU
 * extension is good for any purpose (RFC 5280); rekey's own always have one, adopted ones may not. `caAllowed`:
 * `openssl req -x509`, which scripts like seed 000's gen-api-keys.sh use, marks its self-signed server
 * certificates CA:TRUE; such a certificate is still kept.
 */
export function leafFitProblems(unit: Unit, leaf: X509Certificate, options: { ekuOptional?: boolean; caAllowed?: boolean } = {}): string[] {
  const item = unit.item;
  if (item.kind !== 'certificate') return [];
  const problems: string[] = [];
  if (leaf.ca && !options.caAllowed) problems.push('a leaf certificate must not be a CA');
  if (!(options.ekuOptional && ekuOf(leaf).length === 0)) {
    const ekus = new Set(ekuOf(leaf));
    for (const oid of ekuOids(item.usage)) if (!ekus.has(oid)) problems.push(`extended key usage ${oid} missing for usage ${item.usage}`);
  }
  const sans = (leaf.subjectAltName ?? '').split(', ');
  for (const d of unit.dnsNames) if (!sans.includes(`DNS:${d}`)) problems.push(`SAN DNS:${d} missing`);
  for (const ip of item.ipAddresses) if (!leaf.checkIP(ip)) problems.push(`SAN IP ${ip} missing`);
  return problems;
}
