import { X509Certificate } from 'node:crypto';
import { reasonCode } from '../../domain/enrol/record.js';
import { RekeyError } from '../../domain/errors.js';
import type { Authority } from '../../domain/inventory/model.js';
import { buildValuesOf } from '../../domain/pki/issued.js';
import { buildCertificate, type BuiltCertificate, type CertificateProfile } from '../../domain/pki/certificate.js';
import { buildCrl } from '../../domain/pki/crl.js';
import { chainBelow, issueMaterial, validityWindow, type IssuerMaterial } from '../../domain/pki/issue.js';
import type { CertificateMaterial } from '../../domain/store/material.js';
import type { Unit } from '../../domain/units.js';
import {
  IssuerKind,
  type CrlAnswer,
  type IssueContext,
  type Issuer,
  type NewKeySignRequest,
  type RevokedCertificate,
  type ServedChain,
  type SignedCertificate,
  type SignRequest,
} from '../../ports/issuer.js';

/** A leaf's validity (clamped to its issuer's) and profile, as both ways of signing build it. */
function leafFrame(
  request: Pick<SignRequest, 'validityMs' | 'usage' | 'altNames' | 'crlUrl'>,
  issuer: IssuerMaterial,
  now: Date,
): { notBefore: Date; notAfter: Date; profile: Extract<CertificateProfile, { kind: 'leaf' }> } {
  return {
    ...validityWindow(now, request.validityMs, issuer),
    profile: {
      kind: 'leaf',
      usage: request.usage,
      altNames: request.altNames,
      ...(request.crlUrl && { crlDistributionPoint: request.crlUrl }),
    },
  };
}

function signedCertificate(
  issuer: IssuerMaterial,
  built: Pick<BuiltCertificate, 'pem' | 'serialHex' | 'fingerprint'>,
  builtFrom: NonNullable<SignedCertificate['builtFrom']>,
): SignedCertificate {
  return {
    cert: built.pem,
    chain: chainBelow(issuer),
    ca: issuer.material.ca,
    serial: built.serialHex,
    fingerprint: built.fingerprint,
    notBefore: builtFrom.notBefore.toISOString(),
    notAfter: builtFrom.notAfter.toISOString(),
    issuerFingerprint: issuer.material.fingerprint,
    calls: 0,
    builtFrom,
  };
}

/** A CRL is issued for this long; clients fetch a new one before then. */
export const CRL_VALIDITY_MS = 24 * 3_600_000;

/**
 * rekey's own CA: signs in process with the authority's current key from rekey's store, no call anywhere. Its hot
 * path is synchronous once the authority's parsed version is at hand (the run's reader caches it): one resolved
 * promise per certificate.
 */
export class OwnCaIssuer implements Issuer {
  readonly kind = IssuerKind.Own;

  constructor(private readonly item: Authority) {}

  get authority(): string {
    return this.item.name;
  }

  /** A new CA certificate and key: signed by the parent authority's current version, or self-signed (a root). */
  async authorityMaterial(unit: Unit, specHash: string, ctx: IssueContext): Promise<CertificateMaterial> {
    const parent = this.item.parent ? await ctx.materials.issuer(this.item.parent) : undefined;
    return issueMaterial(unit, parent, ctx.now, specHash);
  }

  async sign(request: SignRequest, ctx: IssueContext): Promise<SignedCertificate> {
    const issuer = await ctx.materials.issuer(this.item.name);
    const { notBefore, notAfter, profile } = leafFrame(request, issuer, ctx.now);
    const built = buildCertificate({
      subject: request.subject,
      publicKey: request.publicKey,
      notBefore,
      notAfter,
      issuer: issuer.signer,
      profile,
    });
    return signedCertificate(issuer, built, buildValuesOf(built, { notBefore, notAfter, profile, issuer }));
  }

  /** The key and certificate made by `ctx.offload` (a signing worker), which also verified the signature. */
  async signNewKey(request: NewKeySignRequest, ctx: IssueContext): Promise<{ signed: SignedCertificate; keyPem: string } | undefined> {
    if (!ctx.offload) return undefined;
    const issuer = await ctx.materials.issuer(this.item.name);
    const { notBefore, notAfter, profile } = leafFrame(request, issuer, ctx.now);
    const making = ctx.offload.make({ keyType: request.keyType, subject: request.subject, notBefore, notAfter, profile }, issuer.signer);
    if (!making) return undefined;
    const made = await making.catch((e: unknown) => {
      const why = e instanceof Error ? e.message : String(e);
      throw new RekeyError(`${request.label}: ${why}`, { cause: e, context: { item: request.label } });
    });
    const built = { pem: made.certPem, serialHex: made.serialHex, fingerprint: made.fingerprint };
    const builtFrom = { ...buildValuesOf(made, { notBefore, notAfter, profile, issuer }), signatureVerified: made.signatureVerified };
    return { keyPem: made.keyPem, signed: signedCertificate(issuer, built, builtFrom) };
  }

  /** rekey is this CA: there is no chain served elsewhere to watch. */
  servedChain(): Promise<ServedChain | undefined> {
    return Promise.resolve(undefined);
  }

  /** Nothing to call: the revocation is rekey's record, which the CRL below lists. */
  revoke(): Promise<{ calls: number }> {
    return Promise.resolve({ calls: 0 });
  }

  /** A v2 CRL signed now by the authority's current key, listing the revoked certificates that key signed. */
  async crl(revoked: () => Promise<readonly RevokedCertificate[]>, ctx: IssueContext): Promise<CrlAnswer> {
    const issuer = await ctx.materials.issuer(this.item.name);
    const ca = new X509Certificate(issuer.material.cert);
    const entries = (await revoked()).filter((r) => {
      const cert = new X509Certificate(r.certificate);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    });
    const der = buildCrl({
      issuer: issuer.signer,
      entries: entries.map((r) => ({ serial: r.serial, revokedAt: r.revokedAt, reasonCode: reasonCode(r.reason) })),
      thisUpdate: ctx.now,
      nextUpdate: new Date(ctx.now.getTime() + CRL_VALIDITY_MS),
      crlNumber: Math.floor(ctx.now.getTime() / 1000),
    });
    return { kind: 'crl', der };
  }
}
