import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { RekeyError } from '../domain/errors.js';
import { checkEnrolment, requestedNames, type EnrolRefusal } from '../domain/enrol/check.js';
import type { EnrolProfile, Inventory } from '../domain/inventory/model.js';
import { buildCertificate } from '../domain/pki/certificate.js';
import { CsrFormatError, parseCsr, splitPemChain } from '../domain/pki/csr.js';
import { BACKDATE_MS, chainBelow } from '../domain/pki/issue.js';
import { storeNameOf } from '../domain/units.js';
import type { Deps } from './deps.js';
import { withBackoff } from './issuers/external.js';
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

/**
 * Signs a requester's CSR under an enrolment profile: the CSR's signature and names are checked against the profile,
 * the certificate is signed by the profile's authority (rekey's own CA in process, or an external one through its
 * signer), recorded (serial, subject, names, requester) and returned with its chain. The key never left the requester.
 */
export async function enrol(deps: Deps, inventory: Inventory, request: EnrolRequest): Promise<Enrolled> {
  const { profile } = request;
  let csr;
  try {
    csr = parseCsr(request.csrPem);
  } catch (e) {
    if (e instanceof CsrFormatError) throw new EnrolRefusedError('BadCsr', e.message);
    throw e;
  }
  const refused = checkEnrolment(profile, csr);
  if (refused) throw new EnrolRefusedError(refused.refusal, refused.message);
  const names = requestedNames(csr);
  const commonName = csr.commonName ?? defined(names[0]);

  const reader = new MaterialReader(deps.store, inventory);
  const authority = reader.authority(profile.issuer);
  if (!authority) throw new RekeyError(`enrolment profile "${profile.name}": unknown authority "${profile.issuer}"`);
  let certificate: string;
  let chain: string;
  let ca: string;
  if (authority.external) {
    if (!deps.signers) throw new RekeyError(`authority "${authority.name}" is external, and this runtime has no signer for it`);
    const signer = await deps.signers.forAuthority(authority);
    const signed = await withBackoff(`enrolment "${profile.name}": signing by "${authority.name}"`, () =>
      signer.sign({ csrPem: request.csrPem, dnsNames: names, validityMs: profile.validityMs, idempotencyKey: randomUUID() }),
    );
    const [leaf, ...rest] = splitPemChain(signed.cert + signed.chain);
    certificate = leaf ?? '';
    chain = rest.join('');
    const current = await reader.current(storeNameOf(inventory.name, authority.name));
    ca = current?.material.type === 'certificate' ? current.material.ca : '';
  } else {
    const issuer = await reader.issuer(authority.name);
    const now = deps.clock.now();
    let notAfter = new Date(now.getTime() + profile.validityMs);
    if (notAfter > issuer.signer.notAfter) notAfter = issuer.signer.notAfter;
    const built = buildCertificate({
      subject: { commonName },
      publicKey: csr.publicKey,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      issuer: issuer.signer,
      serial: randomBytes(16),
      profile: {
        kind: 'leaf',
        usage: profile.usage,
        altNames: { dnsNames: csr.dnsNames.length ? csr.dnsNames : [commonName], ipAddresses: [], uris: [] },
      },
    });
    certificate = built.pem;
    chain = chainBelow(issuer);
    ca = issuer.material.ca;
  }
  const x509 = new X509Certificate(certificate);
  const serial = x509.serialNumber.toLowerCase();
  const notAfter = new Date(x509.validTo).toISOString();
  const record = {
    type: 'enrolment',
    profile: profile.name,
    serial,
    subject: x509.subject,
    names,
    requester: request.requester,
    at: deps.clock.now().toISOString(),
    notAfter,
    fingerprint: x509.fingerprint256,
    certificate,
  };
  const name = enrolRecordName(inventory.name, profile.name, serial);
  const versionId = randomUUID();
  await deps.store.putPending(name, versionId, JSON.stringify(record), {
    description: `rekey enrolment ${profile.name} ${serial}`,
    tags: { 'rekey:inventory': inventory.name, 'rekey:enrol': profile.name, 'rekey:managed-by': 'rekey' },
  });
  await deps.store.promote(name, versionId);
  deps.log.info('certificate enrolled', { profile: profile.name, serial, requester: request.requester, names: names.join(',') });
  return { certificate, chain, ca, serial, notAfter };
}
