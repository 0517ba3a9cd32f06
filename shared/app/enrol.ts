import { randomUUID, X509Certificate } from 'node:crypto';
import { RekeyError } from '../domain/errors.js';
import { checkEnrolment, requestedNames, type EnrolRefusal } from '../domain/enrol/check.js';
import { normalSerial, parseEnrolmentRecord, type EnrolmentRecord } from '../domain/enrol/record.js';
import { checkRenewal, RenewalRefusal } from '../domain/enrol/renewal.js';
import { decodeMaterial } from '../domain/store/material.js';
import { Stage } from '../ports/secret-store.js';
import type { EnrolProfile, Inventory } from '../domain/inventory/model.js';
import type { ParsedCsr } from '../domain/pki/csr.js';
import { certificatesOf } from '../domain/pki/chain.js';
import { storeNameOf } from '../domain/units.js';
import type { Deps } from './deps.js';
import { MaterialReader } from './materials.js';
import { defined } from '../domain/defined.js';

/** A CSR refused under its profile (bad signature, names outside it): the requester's fault, nothing issued. */
export class EnrolRefusedError extends RekeyError {
  override readonly invalidInput = true;
  constructor(
    readonly refusal: EnrolRefusal | 'BadCsr',
    message: string,
  ) {
    super(message);
  }
}

export interface EnrolRequest {
  readonly profile: EnrolProfile;
  readonly csrPem: string;
  /** Who asked (the token's subject), recorded with the certificate. */
  readonly requester: string;
}

export interface Enrolled {
  readonly certificate: string;
  /** Intermediates, leaf excluded. */
  readonly chain: string;
  /** The trust bundle (roots). */
  readonly ca: string;
  readonly serial: string;
  readonly notAfter: string;
}

/** Where an enrolled certificate is recorded: under the API's own prefix, which the API's role may write. */
export const enrolRecordName = (inventory: string, profile: string, serial: string): string =>
  storeNameOf(inventory, `_api/enrol/${profile}/${serial}`);

/** A renewal refused: the presented certificate is no proof under this profile, or the CSR widens its names. */
export class RenewalRefusedError extends RekeyError {
  override readonly invalidInput = true;
  constructor(
    readonly refusal: RenewalRefusal,
    message: string,
  ) {
    super(message);
  }
}

export interface RenewalRequest {
  readonly profile: EnrolProfile;
  readonly csrPem: string;
  /** The current certificate, PEM, as the client presented it over mTLS (the TLS handshake proved it holds the key). */
  readonly clientCertificate: string | undefined;
}

/** The URL of a profile's CRL under the API's public URL (written as the CRL Distribution Point of its certificates). */
export const enrolmentCrlUrl = (publicUrl: string, profile: string): string => `${publicUrl}/v1/enrol/${encodeURIComponent(profile)}/crl`;

/** Reads the enrolment record of a serial under a profile, if there is one. */
export async function readEnrolment(deps: Pick<Deps, 'store'>, inventory: string, profile: string, serial: string) {
  const name = enrolRecordName(inventory, profile, normalSerial(serial));
  const v = await deps.store.getVersion(name, { stage: Stage.Current });
  return v && { name, record: parseEnrolmentRecord(v.value, name) };
}

async function checkedCsr(profile: EnrolProfile, csrPem: string): Promise<{ csr: ParsedCsr; names: string[] }> {
  // The CSR parser loads node-forge: only when a CSR comes in, not at every function's cold start.
  const { CsrFormatError, parseCsr } = await import('../domain/pki/csr.js');
  let csr;
  try {
    csr = parseCsr(csrPem);
  } catch (e) {
    if (e instanceof CsrFormatError) throw new EnrolRefusedError('BadCsr', e.message);
    throw e;
  }
  const refused = checkEnrolment(profile, csr);
  if (refused) throw new EnrolRefusedError(refused.refusal, refused.message);
  return { csr, names: requestedNames(csr) };
}

/**
 * The authority's certificates that may have signed a profile's certificates still in use: current and previous,
 * and the CA each of them still trusts from its last rotation (`trustAlso`): a client enrolled before a CA rotation
 * can renew onto the new CA with its old certificate (it is recorded, unexpired and not revoked) instead of being
 * stranded until someone hands it a token.
 */
async function issuerCertificates(deps: Deps, inventory: Inventory, authority: string): Promise<X509Certificate[]> {
  const name = storeNameOf(inventory.name, authority);
  const versions = await Promise.all([Stage.Current, Stage.Previous].map((stage) => deps.store.getVersion(name, { stage })));
  return versions.flatMap((v) => {
    if (!v) return [];
    const material = decodeMaterial(v.value, name);
    return material.type === 'certificate' ? certificatesOf(material.cert + (material.trustAlso ?? '')) : [];
  });
}

/**
 * Signs a requester's CSR under an enrolment profile: the CSR's signature and names are checked against the profile,
 * the certificate is signed by the profile's authority through its issuer (rekey's own CA in process, or an external
 * CA), recorded (serial, subject, names, requester) and returned with its chain. The key never left the requester.
 */
export async function enrol(deps: Deps, inventory: Inventory, request: EnrolRequest): Promise<Enrolled> {
  const { csr, names } = await checkedCsr(request.profile, request.csrPem);
  return issueAndRecord(deps, inventory, request.profile, request.csrPem, csr, names, { requester: request.requester });
}

/**
 * Renewal with the current certificate as proof (mTLS) instead of a token: the presented certificate must be signed
 * by the profile's authority, recorded under this profile, valid now and not revoked, and the CSR's names equal to or
 * within its names (and still allowed by the profile). The new certificate is recorded with the old serial.
 */
export async function renewEnrolment(deps: Deps, inventory: Inventory, request: RenewalRequest): Promise<Enrolled> {
  const { profile } = request;
  if (!request.clientCertificate)
    throw new RenewalRefusedError(RenewalRefusal.NoCertificate, 'a renewal needs the current certificate as the TLS client certificate');
  let current: X509Certificate;
  try {
    current = new X509Certificate(request.clientCertificate);
  } catch {
    throw new RenewalRefusedError(RenewalRefusal.NoCertificate, 'the client certificate does not parse');
  }
  const { csr, names } = await checkedCsr(profile, request.csrPem);
  const [issuers, found] = await Promise.all([
    issuerCertificates(deps, inventory, profile.issuer),
    readEnrolment(deps, inventory.name, profile.name, current.serialNumber),
  ]);
  const refused = checkRenewal({ current, issuers, record: found?.record, requested: names, now: deps.clock.now() });
  if (refused) throw new RenewalRefusedError(refused.refusal, refused.message);
  const previous = defined(found).record;
  return issueAndRecord(deps, inventory, profile, request.csrPem, csr, names, {
    requester: previous.requester,
    renewedFrom: previous.serial,
  });
}

async function issueAndRecord(
  deps: Deps,
  inventory: Inventory,
  profile: EnrolProfile,
  csrPem: string,
  csr: ParsedCsr,
  names: string[],
  by: { requester: string; renewedFrom?: string },
): Promise<Enrolled> {
  const commonName = csr.commonName ?? defined(names[0]);
  const reader = new MaterialReader(deps.store, inventory);
  const authority = reader.authority(profile.issuer);
  if (!authority) throw new RekeyError(`enrolment profile "${profile.name}": unknown authority "${profile.issuer}"`);
  const issuer = await deps.issuers.forAuthority(authority);
  const signed = await issuer.sign(
    {
      label: `enrolment "${profile.name}"`,
      subject: { commonName },
      publicKey: csr.publicKey,
      csrPem: () => csrPem,
      altNames: { dnsNames: csr.dnsNames.length ? csr.dnsNames : [commonName], ipAddresses: [], uris: [] },
      names,
      usage: profile.usage,
      validityMs: profile.validityMs,
      idempotencyKey: randomUUID(),
      ...(inventory.api && { crlUrl: enrolmentCrlUrl(inventory.api.publicUrl, profile.name) }),
    },
    { now: deps.clock.now(), materials: reader },
  );
  const { cert: certificate, chain, ca } = signed;
  const x509 = new X509Certificate(certificate);
  // An ACME CA's certificates may have an empty subject (names only in the SAN), which Node reports as undefined.
  const subject = x509.subject as string | undefined;
  const serial = normalSerial(x509.serialNumber);
  const notAfter = new Date(x509.validTo).toISOString();
  const record: EnrolmentRecord = {
    type: 'enrolment',
    profile: profile.name,
    serial,
    subject: subject || '',
    names,
    requester: by.requester,
    ...(by.renewedFrom && { renewedFrom: by.renewedFrom }),
    at: deps.clock.now().toISOString(),
    notAfter,
    fingerprint: x509.fingerprint256,
    certificate,
  };
  const name = enrolRecordName(inventory.name, profile.name, serial);
  // A new secret per certificate: nothing to stage, one write.
  await deps.store.putCurrent(name, randomUUID(), JSON.stringify(record), {
    description: `rekey enrolment ${profile.name} ${serial}`,
    tags: { 'rekey:inventory': inventory.name, 'rekey:enrol': profile.name, 'rekey:managed-by': 'rekey' },
  });
  deps.log.info(by.renewedFrom ? 'certificate renewed' : 'certificate enrolled', {
    profile: profile.name,
    serial,
    requester: by.requester,
    names: names.join(','),
    ...(by.renewedFrom && { renewedFrom: by.renewedFrom }),
  });
  return { certificate, chain, ca, serial, notAfter };
}
