import { readFileSync } from 'node:fs';
import type { Authority, Inventory } from '../domain/inventory/model.js';
import { RekeyError } from '../domain/errors.js';
import { parseDuration } from '../domain/duration.js';
import type { CertificateSigner, CertificateSigners } from '../ports/certificate-signer.js';
import type { SecretStore } from '../ports/secret-store.js';

export interface ExternalSignerOptions {
  /** Where an ACME account key is kept (`rekey/<inventory>/_acme/<authority>`). */
  readonly store: SecretStore;
  readonly inventory: string;
  /** PEM of CAs to trust for the ACME directory's HTTPS besides the system's (a private ACME server, pebble). */
  readonly acmeCaCert?: string;
}

/**
 * The signers of an inventory's external authorities, one per authority, made on first use; the AWS and ACME
 * adapters are loaded only when an inventory names such an authority.
 */
export function externalSigners(options: ExternalSignerOptions): CertificateSigners {
  const made = new Map<string, Promise<CertificateSigner>>();
  const make = async (authority: Authority): Promise<CertificateSigner> => {
    const external = authority.external;
    if (!external) throw new RekeyError(`authority "${authority.name}" is not external`);
    if ('awsPrivateCa' in external) {
      const { PrivateCaSigner } = await import('./aws/private-ca-signer.js');
      const c = external.awsPrivateCa;
      return new PrivateCaSigner({
        arn: c.arn,
        signingAlgorithm: c.signingAlgorithm,
        ...(c.templateArn && { templateArn: c.templateArn }),
        authority: authority.name,
      });
    }
    const [{ AcmeSigner }, { Route53TxtRecords }] = await Promise.all([import('./acme/acme-signer.js'), import('./aws/route53-txt.js')]);
    const a = external.acme;
    return new AcmeSigner({
      authority: authority.name,
      directory: a.directory,
      email: a.email,
      ...(a.eab && { eab: a.eab }),
      ...(a.roots && { roots: a.roots }),
      dns: new Route53TxtRecords({ hostedZoneId: a.solver.dns01.route53.hostedZoneId }),
      ...(a.solver.dns01.propagationDelay && { propagationDelayMs: parseDuration(a.solver.dns01.propagationDelay) ?? 0 }),
      store: options.store,
      accountKeyName: `rekey/${options.inventory}/_acme/${authority.name}`,
      ...(options.acmeCaCert && { caCert: options.acmeCaCert }),
    });
  };
  return {
    forAuthority(authority) {
      let hit = made.get(authority.name);
      if (!hit) made.set(authority.name, (hit = make(authority)));
      return hit;
    },
  };
}

/** Signers when the inventory has external authorities, else nothing (most inventories). */
export function signersFor(
  inventory: Inventory,
  options: Omit<ExternalSignerOptions, 'inventory'>,
): { signers: CertificateSigners } | Record<string, never> {
  return inventory.authorities.some((a) => a.external) ? { signers: externalSigners({ ...options, inventory: inventory.name }) } : {};
}

/** `REKEY_ACME_CA_FILE`: a PEM file of a CA to trust for a private ACME server's HTTPS (step-ca, pebble). */
export function acmeCaFromEnv(env: NodeJS.ProcessEnv = process.env): { acmeCaCert?: string } {
  const file = env.REKEY_ACME_CA_FILE;
  return file ? { acmeCaCert: readFileSync(file, 'utf8') } : {};
}
