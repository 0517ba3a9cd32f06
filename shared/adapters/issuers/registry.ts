import { readFileSync } from 'node:fs';
import type { Authority, Inventory } from '../../domain/inventory/model.js';
import { parseDuration } from '../../domain/duration.js';
import type { Issuer, Issuers } from '../../ports/issuer.js';
import type { SecretStore } from '../../ports/secret-store.js';
import { OwnCaIssuer } from './own-ca-issuer.js';

export interface IssuerRegistryOptions {
  /** Where an ACME account key is kept (`rekey/<inventory>/_acme/<authority>`). */
  readonly store: SecretStore;
  readonly inventory: string;
  /** PEM of CAs to trust for the ACME directory's HTTPS besides the system's (a private ACME server, pebble). */
  readonly acmeCaCert?: string;
}

async function externalIssuer(
  authority: Authority,
  external: NonNullable<Authority['external']>,
  options: IssuerRegistryOptions,
): Promise<Issuer> {
  if ('awsPrivateCa' in external) {
    const { PrivateCaIssuer } = await import('../aws/private-ca-issuer.js');
    const c = external.awsPrivateCa;
    return new PrivateCaIssuer({
      arn: c.arn,
      signingAlgorithm: c.signingAlgorithm,
      ...(c.templateArn && { templateArn: c.templateArn }),
      authority: authority.name,
    });
  }
  const [{ AcmeIssuer }, { Route53TxtRecords }] = await Promise.all([import('../acme/acme-issuer.js'), import('../aws/route53-txt.js')]);
  const a = external.acme;
  return new AcmeIssuer({
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
}

/**
 * The issuer of each authority, one per authority, made on first use: rekey's own CA for its own authorities, AWS
 * Private CA or ACME for external ones. The AWS and ACME adapters are loaded only when an inventory names such an
 * authority.
 */
export function issuerRegistry(options: IssuerRegistryOptions): Issuers {
  const made = new Map<string, Promise<Issuer>>();
  return {
    forAuthority(authority) {
      let hit = made.get(authority.name);
      if (!hit) {
        hit = authority.external ? externalIssuer(authority, authority.external, options) : Promise.resolve(new OwnCaIssuer(authority));
        made.set(authority.name, hit);
      }
      return hit;
    },
  };
}

/** The inventory's issuer registry. */
export function issuersFor(inventory: Inventory, options: Omit<IssuerRegistryOptions, 'inventory'>): { issuers: Issuers } {
  return { issuers: issuerRegistry({ ...options, inventory: inventory.name }) };
}

/** `REKEY_ACME_CA_FILE`: a PEM file of a CA to trust for a private ACME server's HTTPS (step-ca, pebble). */
export function acmeCaFromEnv(env: NodeJS.ProcessEnv = process.env): { acmeCaCert?: string } {
  const file = env.REKEY_ACME_CA_FILE;
  return file ? { acmeCaCert: readFileSync(file, 'utf8') } : {};
}
