import { X509Certificate } from 'node:crypto';
import { IntegrityError, RekeyError, TransientError } from '../../domain/errors.js';
import type { Authority } from '../../domain/inventory/model.js';
import { buildCsr } from '../../domain/pki/csr-build.js';
import { isSelfSigned, splitPemChain } from '../../domain/pki/pem.js';
import { generateKeyPair, privateKeyToPem } from '../../domain/pki/keys.js';
import type { CertificateMaterial } from '../../domain/store/material.js';
import type { Unit } from '../../domain/units.js';
import type { CertificateSigner, CertificateSigners } from '../../ports/certificate-signer.js';

/** How often and how patiently a transient CA error (rate-limited, unreachable) is tried again within one step. */
export const SIGN_RETRY = { attempts: 4, firstDelayMs: 500, factor: 3 } as const;

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();

function signersOf(signers: CertificateSigners | undefined, authority: Authority): CertificateSigners {
  if (!signers)
    throw new RekeyError(`authority "${authority.name}" is external, and this runtime has no signer for it`, {
      context: { item: authority.name },
    });
  return signers;
}

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

/**
 * The version of an external authority: its CA certificate (the top intermediate, or the root) without a key, and
 * the CA's roots as the trust bundle. Fetched, never issued; a different chain is a new version.
 */
export async function externalAuthorityMaterial(
  signers: CertificateSigners | undefined,
  authority: Authority,
  specHash: string,
): Promise<CertificateMaterial> {
  const signer = await signersOf(signers, authority).forAuthority(authority);
  const trust = await withBackoff(`authority "${authority.name}": reading the CA's certificates`, () => signer.trust());
  const intermediates = splitPemChain(trust.intermediates);
  const roots = splitPemChain(trust.roots);
  const top = intermediates[0] ?? roots[0];
  if (!top)
    throw new IntegrityError(`authority "${authority.name}": the CA returned no certificate`, { context: { item: authority.name } });
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
    keyType: authority.keyType,
    specHash,
  };
}

/**
 * A leaf signed by an external CA: rekey makes the key, sends only a CSR, and keeps the key in its store. The
 * chain is what the CA returned (roots left out); the trust bundle is the authority's stored one, else the top of
 * the returned chain.
 */
export async function externalLeafMaterial(
  deps: { readonly signers?: CertificateSigners | undefined },
  unit: Unit,
  authority: Authority,
  authorityMaterial: CertificateMaterial | undefined,
  specHash: string,
  idempotencyKey: string,
): Promise<{ readonly material: CertificateMaterial; readonly calls: number }> {
  const item = unit.item;
  if (item.kind !== 'certificate') throw new Error('only certificates are signed by an external authority');
  const signer: CertificateSigner = await signersOf(deps.signers, authority).forAuthority(authority);
  const keys = generateKeyPair(item.keyType);
  const csrPem = buildCsr({
    subject: { ...item.subject, commonName: unit.commonName ?? item.subject.commonName },
    privateKey: keys.privateKey,
    altNames: { dnsNames: unit.dnsNames, ipAddresses: item.ipAddresses, uris: item.uris },
  });
  const signed = await withBackoff(`${unit.key}: signing by external authority "${authority.name}"`, () =>
    signer.sign({ csrPem, dnsNames: unit.dnsNames, validityMs: item.validityMs, idempotencyKey }),
  );
  const [leafPem, ...rest] = splitPemChain(signed.cert + signed.chain);
  if (!leafPem)
    throw new IntegrityError(`${unit.key}: external authority "${authority.name}" returned no certificate`, {
      context: { item: unit.key },
    });
  const leaf = new X509Certificate(leafPem);
  const intermediates = rest.filter((c) => !isSelfSigned(c) && fingerprintOf(c) !== fingerprintOf(leafPem));
  const returnedRoots = rest.filter((c) => isSelfSigned(c));
  const ca = authorityMaterial?.ca || returnedRoots.join('') || intermediates[intermediates.length - 1] || '';
  const material: CertificateMaterial = {
    type: 'certificate',
    cert: leafPem,
    key: privateKeyToPem(keys.privateKey),
    chain: intermediates.join(''),
    ca,
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    serial: leaf.serialNumber.toLowerCase(),
    fingerprint: fingerprintOf(leafPem),
    keyType: item.keyType,
    issuer: authority.name,
    ...(authorityMaterial && { issuerFingerprint: authorityMaterial.fingerprint }),
    specHash,
  };
  return { material, calls: signed.calls };
}
