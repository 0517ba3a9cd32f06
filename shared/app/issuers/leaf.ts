import { buildCsr } from '../../domain/pki/csr-build.js';
import { rememberIssued } from '../../domain/pki/issued.js';
import { generateIssuedKey } from '../../domain/pki/keys.js';
import type { CertificateMaterial } from '../../domain/store/material.js';
import type { Unit } from '../../domain/units.js';
import type { IssueContext, Issuer } from '../../ports/issuer.js';

/**
 * A certificate unit's new version: rekey makes the key (it stays in rekey's store), and the unit's authority signs
 * its public key, in process (rekey's own CA) or as a CSR sent to an external CA (built only then).
 */
export async function leafMaterial(
  issuer: Issuer,
  unit: Unit,
  specHash: string,
  idempotencyKey: string,
  ctx: IssueContext,
): Promise<CertificateMaterial> {
  const item = unit.item;
  if (item.kind !== 'certificate') throw new Error(`${unit.key} is not a certificate`);
  const subject = { ...item.subject, commonName: unit.commonName ?? item.subject.commonName };
  const altNames = { dnsNames: unit.dnsNames, ipAddresses: item.ipAddresses, uris: item.uris };
  const request = {
    label: unit.key,
    subject,
    altNames,
    names: unit.dnsNames,
    usage: item.usage,
    validityMs: item.validityMs,
    idempotencyKey,
  };
  // Many leaves in one run: rekey's own CA makes key and certificate on a signing worker (see LeafOffload).
  let made = ctx.offload && issuer.signNewKey ? await issuer.signNewKey({ ...request, keyType: item.keyType }, ctx) : undefined;
  if (!made) {
    const keys = generateIssuedKey(item.keyType);
    const csrPem = () => buildCsr({ subject, privateKey: keys.signingKey(), altNames });
    made = { signed: await issuer.sign({ ...request, publicKey: keys.publicKey, csrPem }, ctx), keyPem: keys.pkcs8Pem };
  }
  const { signed, keyPem } = made;
  const material: CertificateMaterial = {
    type: 'certificate',
    cert: signed.cert,
    key: keyPem,
    chain: signed.chain,
    ca: signed.ca,
    notBefore: signed.notBefore,
    notAfter: signed.notAfter,
    serial: signed.serial,
    fingerprint: signed.fingerprint,
    keyType: item.keyType,
    issuer: issuer.authority,
    ...(signed.issuerFingerprint && { issuerFingerprint: signed.issuerFingerprint }),
    specHash,
  };
  if (signed.builtFrom)
    rememberIssued(material, { ...signed.builtFrom, cert: material.cert, key: material.key, chain: material.chain, ca: material.ca });
  return material;
}
