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
import type { CertificateProfile } from './certificate.js';
import type { IssuerMaterial } from './issue.js';
import { issuedFactsOf, signatureVerifies, type IssuedFacts } from './issued.js';
import { ipBytes } from './extensions/subject-alt-name.js';

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
 *
 * Everything that comes from outside this process (an external CA's chain, an import, an adopted Secret, any
 * version read back from a store) and every authority is parsed and walked with OpenSSL. A leaf this process just
 * issued from an issuer it holds is checked from what it was built from (see `issuedLeafProblems`), once a leaf of
 * the same issuer, chain, bundle and shape passed the parsed check in this process.
 */
export function checkCertificateMaterial(unit: Unit, m: CertificateMaterial, now: Date): string[] {
  const facts = issuedFactsOf(m);
  const trusted = facts && vouchedIssuer(unit, m, facts);
  if (facts && trusted) return issuedLeafProblems(unit, facts, trusted, now);
  const problems = parsedCertificateProblems(unit, m, now);
  if (facts && problems.length === 0) vouch(unit, m, facts);
  return problems;
}

/**
 * An issuer whose leaves the parsed check passed in this process, with the chain and bundle they carried and the
 * leaf shapes seen. Keyed by the issuer object a run signs with (one per authority version and run).
 */
interface VouchedIssuer {
  readonly chain: string;
  readonly ca: string;
  /** The public key of the issuer's certificate, which the parsed check found to lead to the bundle. */
  readonly publicKey: KeyObject;
  readonly shapes: Set<string>;
}
const vouched = new WeakMap<object, VouchedIssuer>();

/**
 * What may make rekey's DER writer take another path: usage, how many names of each kind, long names, the subject
 * fields set. The first leaf of each shape is parsed, so a writer defect that shows only with some inputs is found.
 */
function shapeOf(unit: Unit, profile: Extract<CertificateProfile, { kind: 'leaf' }>): string {
  const item = unit.item;
  const subject = item.kind === 'credential' ? [] : [...(item.subject.organization ?? []), ...(item.subject.organizationalUnit ?? [])];
  const names = [...profile.altNames.dnsNames, ...profile.altNames.uris, ...subject, unit.commonName ?? ''];
  const plain = names.every((n) => n.length <= 60 && /^[\x20-\x7e]*$/.test(n));
  const { dnsNames, ipAddresses, uris } = profile.altNames;
  return [profile.usage, dnsNames.length, ipAddresses.length, uris.length, subject.length, plain].join('|');
}

function vouchedIssuer(unit: Unit, m: CertificateMaterial, facts: IssuedFacts): VouchedIssuer | undefined {
  if (unit.item.kind !== 'certificate' || facts.profile.kind !== 'leaf' || !facts.issuer) return undefined;
  const v = vouched.get(facts.issuer);
  return v && v.chain === m.chain && v.ca === m.ca && v.shapes.has(shapeOf(unit, facts.profile)) ? v : undefined;
}

/** After a leaf of this issuer passed the parsed check: its issuer's certificate, whose key signed it, is trusted. */
function vouch(unit: Unit, m: CertificateMaterial, facts: IssuedFacts): void {
  if (unit.item.kind !== 'certificate' || facts.profile.kind !== 'leaf' || !facts.issuer) return;
  const issuerCert = certificatesOfPem((facts.issuer as IssuerMaterial).material.cert)[0];
  // The parsed check found some certificate of the chain or bundle that signed it: make sure it is the issuer's.
  if (!issuerCert || !signatureVerifies(facts, issuerCert.publicKey)) return;
  let v = vouched.get(facts.issuer);
  if (v?.chain !== m.chain || v.ca !== m.ca) {
    v = { chain: m.chain, ca: m.ca, publicKey: issuerCert.publicKey, shapes: new Set() };
    vouched.set(facts.issuer, v);
  }
  v.shapes.add(shapeOf(unit, facts.profile));
}

/**
 * The check of a leaf this process built, from the values it was built from. What a parse would add is covered:
 * that OpenSSL reads rekey's DER, that the chain and bundle lead from the issuer to a root (path lengths included)
 * and that the issuer's key belongs to its certificate were shown by the parsed check of an earlier leaf of the
 * same issuer, chain, bundle and shape; the key pair was generated with the certificate (its public key is the one
 * written). What varies per leaf is checked here: the signature over the bytes written verifies under the issuer's
 * certificate (as Go's CreateCertificate checks its signer; done by the signing worker when one made the leaf), the
 * validity, and that the values it was built from are what the inventory asks of this unit (usages, names, not a CA).
 */
function issuedLeafProblems(unit: Unit, facts: IssuedFacts, issuer: VouchedIssuer, now: Date): string[] {
  const problems: string[] = [];
  // A signing worker of this process verified it under the same certificate's key right after signing.
  if (facts.signatureVerified !== true && !signatureVerifies(facts, issuer.publicKey))
    problems.push("signature does not verify under the issuer's certificate");
  if (facts.notBefore > now || facts.notAfter <= now)
    problems.push(`not valid now (${facts.notBefore.toISOString()} .. ${facts.notAfter.toISOString()})`);
  problems.push(...issuedFitProblems(unit, facts.profile));
  return problems;
}

/** `leafFitProblems` for a certificate rekey built: from the profile it was built with. */
export function issuedFitProblems(unit: Unit, profile: CertificateProfile): string[] {
  const item = unit.item;
  if (item.kind !== 'certificate') return [];
  if (profile.kind !== 'leaf') return ['a leaf certificate must not be a CA'];
  const problems: string[] = [];
  const ekus = new Set(ekuOids(profile.usage));
  for (const oid of ekuOids(item.usage)) if (!ekus.has(oid)) problems.push(`extended key usage ${oid} missing for usage ${item.usage}`);
  const dns = new Set(profile.altNames.dnsNames);
  for (const d of unit.dnsNames) if (!dns.has(d)) problems.push(`SAN DNS:${d} missing`);
  const ips = profile.altNames.ipAddresses.map(ipBytes);
  for (const ip of item.ipAddresses) if (!ips.some((b) => b.equals(ipBytes(ip)))) problems.push(`SAN IP ${ip} missing`);
  return problems;
}

/** The whole check on the certificate as parsed by OpenSSL: for anything that comes from outside this process. */
function parsedCertificateProblems(unit: Unit, m: CertificateMaterial, now: Date): string[] {
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
