import { X509Certificate } from 'node:crypto';
import type { RevocationReason } from '../../domain/enrol/record.js';
import { IntegrityError, TransientError } from '../../domain/errors.js';
import { isSelfSigned, splitPemChain } from '../../domain/pki/pem.js';
import type { CertificateMaterial } from '../../domain/store/material.js';
import type { Unit } from '../../domain/units.js';
import type { CrlAnswer, IssueContext, Issuer, IssuerKind, ServedChain, SignedCertificate, SignRequest } from '../../ports/issuer.js';

/** How often and how patiently a transient CA error (rate-limited, unreachable) is tried again within one step. */
export const SIGN_RETRY = { attempts: 4, firstDelayMs: 500, factor: 3 } as const;

/**
 * Runs a CA call, trying a transient failure again with exponential backoff; other failures (denied, invalid
 * request) fail at once. The last transient failure is thrown as it is, so the step machine can retry the step later.
 */
export async function withBackoff<T>(
  what: string,
  run: () => Promise<T>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  let delay: number = SIGN_RETRY.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (!(e instanceof TransientError) || attempt >= SIGN_RETRY.attempts) {
        if (e instanceof TransientError)
          throw new TransientError(`${what}: ${e.message} (tried ${attempt} times)`, { cause: e, context: e.context });
        throw e;
      }
      await sleep(delay);
      delay *= SIGN_RETRY.factor;
    }
  }
}

/** What an external CA is sent: a PKCS#10 request made with a key that stays with rekey or the requester. */
export interface CsrSignRequest {
  readonly csrPem: string;
  /** The names the certificate must carry (the CSR's too), for CAs that order by name (ACME). */
  readonly dnsNames: readonly string[];
  readonly validityMs: number;
  readonly idempotencyKey: string;
}

/** A certificate an external CA signed, with what it returned after it (intermediates, maybe roots). */
export interface SignedChain {
  readonly cert: string;
  readonly chain: string;
  readonly calls: number;
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();

/**
 * An external CA (AWS Private CA, ACME) as an Issuer: the CA signs CSRs, serves its chain and revokes; this base
 * turns that into what rekey stores (the leaf, intermediates without roots, the authority's trust bundle) and tries
 * transient failures again with backoff. Subclasses make the CA's calls, one try each.
 */
export abstract class ExternalIssuer implements Issuer {
  abstract readonly kind: IssuerKind;

  constructor(readonly authority: string) {}

  /** Has the CA sign a CSR (one try). */
  abstract signCsr(request: CsrSignRequest): Promise<SignedChain>;
  /** Reads the chain the CA serves (one try). */
  abstract readChain(): Promise<ServedChain>;
  /** Revokes a certificate at the CA (one try); one the CA already revoked is no error. */
  abstract revokeAtCa(serial: string, pem: string, reason: RevocationReason): Promise<{ calls: number }>;
  /** Who publishes the CA's CRL, and its URL when the CA says. */
  abstract crlLocation(): Promise<{ publisher: string; url?: string }>;

  servedChain(): Promise<ServedChain> {
    return withBackoff(`authority "${this.authority}": reading the CA's certificates`, () => this.readChain());
  }

  /**
   * The version of an external authority: its CA certificate (the top intermediate, or the root) without a key, and
   * the CA's roots as the trust bundle. Fetched, never issued; a different chain is a new version.
   */
  async authorityMaterial(unit: Unit, specHash: string): Promise<CertificateMaterial> {
    const trust = await this.servedChain();
    const intermediates = splitPemChain(trust.intermediates);
    const roots = splitPemChain(trust.roots);
    const top = intermediates[0] ?? roots[0];
    if (!top)
      throw new IntegrityError(`authority "${this.authority}": the CA returned no certificate`, { context: { item: this.authority } });
    if (unit.item.kind === 'credential') throw new Error('a credential is no authority');
    const cert = new X509Certificate(top);
    return {
      type: 'certificate',
      cert: top,
      key: '',
      chain: intermediates.slice(1).join(''),
      ca: roots.length ? roots.join('') : top,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      serial: cert.serialNumber.toLowerCase(),
      fingerprint: fingerprintOf(top),
      keyType: unit.item.keyType,
      specHash,
    };
  }

  /**
   * Sends the request's CSR and keeps what came back: the leaf, the intermediates (roots left out), and as trust
   * bundle the authority's stored one, else the roots returned, else the top of the returned chain.
   */
  async sign(request: SignRequest, ctx: IssueContext): Promise<SignedCertificate> {
    const csrPem = request.csrPem();
    const signed = await withBackoff(`${request.label}: signing by external authority "${this.authority}"`, () =>
      this.signCsr({ csrPem, dnsNames: request.names, validityMs: request.validityMs, idempotencyKey: request.idempotencyKey }),
    );
    const [leafPem, ...rest] = splitPemChain(signed.cert + signed.chain);
    if (!leafPem)
      throw new IntegrityError(`${request.label}: external authority "${this.authority}" returned no certificate`, {
        context: { item: request.label },
      });
    const leaf = new X509Certificate(leafPem);
    const leafFingerprint = fingerprintOf(leafPem);
    const intermediates = rest.filter((c) => !isSelfSigned(c) && fingerprintOf(c) !== leafFingerprint);
    const returnedRoots = rest.filter((c) => isSelfSigned(c));
    const stored = await ctx.materials.authorityCurrent(this.authority);
    return {
      cert: leafPem,
      chain: intermediates.join(''),
      ca: stored?.ca || returnedRoots.join('') || intermediates[intermediates.length - 1] || '',
      serial: leaf.serialNumber.toLowerCase(),
      fingerprint: leafFingerprint,
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: new Date(leaf.validTo).toISOString(),
      ...(stored && { issuerFingerprint: stored.fingerprint }),
      calls: signed.calls,
    };
  }

  revoke(certificate: { serial: string; pem: string; reason: RevocationReason }): Promise<{ calls: number }> {
    return withBackoff(`authority "${this.authority}": revoking ${certificate.serial}`, () =>
      this.revokeAtCa(certificate.serial, certificate.pem, certificate.reason),
    );
  }

  /** rekey holds no key of this CA to sign a CRL with: the answer names the CA that publishes it. */
  async crl(): Promise<CrlAnswer> {
    return { kind: 'elsewhere', ...(await this.crlLocation()) };
  }
}
