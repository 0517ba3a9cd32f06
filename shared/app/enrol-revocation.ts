import { randomUUID, X509Certificate } from 'node:crypto';
import { NotFoundError, RekeyError, UsageError } from '../domain/errors.js';
import { normalSerial, parseEnrolmentRecord, reasonCode, type EnrolmentRecord, type RevocationReason } from '../domain/enrol/record.js';
import type { EnrolProfile, Inventory } from '../domain/inventory/model.js';
import { buildCrl } from '../domain/pki/crl.js';
import { Stage } from '../ports/secret-store.js';
import type { Deps } from './deps.js';
import { enrolRecordName, readEnrolment } from './enrol.js';
import { MaterialReader } from './materials.js';

/** A CRL is issued for this long; clients fetch a new one before then (every request builds a fresh one). */
export const CRL_VALIDITY_MS = 24 * 3_600_000;

/**
 * CRLs built in this process, by inventory and profile, reused for a minute: the route is open, and building one
 * reads every record of the profile (one store call each), so a client polling it must not cost that per request.
 * A revocation in this process drops the entry; another process (a second warm Lambda) shows it within the minute
 * (renewals are refused at once either way: they read the record).
 */
const crlCache = new Map<string, { readonly der: Buffer; readonly until: number }>();
export const CRL_CACHE_MS = 60_000;

/** The inventory's enrolment profile of that name; UsageError naming the profiles when there is none. */
export function enrolProfile(inventory: Inventory, name: string): EnrolProfile {
  const profile = inventory.enrol?.find((p) => p.name === name);
  if (!profile) {
    const known = inventory.enrol?.map((p) => p.name).join(', ') || 'none';
    throw new NotFoundError(`no enrolment profile "${name}" (profiles: ${known})`);
  }
  return profile;
}

/**
 * Marks an enrolled certificate revoked: a new version of its record with the time, reason and who revoked it.
 * Renewals with it are refused from then on and the profile's CRL lists it. Revoking it again changes nothing.
 */
export async function revokeEnrolled(
  deps: Deps,
  inventory: Inventory,
  request: { profile: EnrolProfile; serial: string; reason: RevocationReason; by: string },
): Promise<{ record: EnrolmentRecord; changed: boolean }> {
  const found = await readEnrolment(deps, inventory.name, request.profile.name, request.serial);
  if (!found)
    throw new NotFoundError(`no certificate with serial ${normalSerial(request.serial)} was enrolled under "${request.profile.name}"`);
  if (found.record.revoked) return { record: found.record, changed: false };
  const record: EnrolmentRecord = {
    ...found.record,
    revoked: { at: deps.clock.now().toISOString(), reason: request.reason, by: request.by },
  };
  await deps.store.putCurrent(found.name, randomUUID(), JSON.stringify(record));
  for (const key of crlCache.keys()) if (key.startsWith(`${inventory.name}/${request.profile.name}/`)) crlCache.delete(key);
  deps.log.info('enrolled certificate revoked', {
    profile: request.profile.name,
    serial: record.serial,
    reason: request.reason,
    by: request.by,
  });
  return { record, changed: true };
}

/** Every certificate enrolled under a profile, newest first. */
export async function listEnrolled(deps: Pick<Deps, 'store'>, inventory: string, profile: string): Promise<EnrolmentRecord[]> {
  const prefix = enrolRecordName(inventory, profile, '');
  const names = (await deps.store.list(prefix)).filter((n) => n.startsWith(prefix) && !n.slice(prefix.length).includes('/'));
  const records = await Promise.all(
    names.map(async (name) => {
      const v = await deps.store.getVersion(name, { stage: Stage.Current });
      return v && parseEnrolmentRecord(v.value, name);
    }),
  );
  return records.filter((r): r is EnrolmentRecord => r !== undefined).sort((a, b) => b.at.localeCompare(a.at));
}

/**
 * The profile's CRL, DER, signed by its authority now: every revoked certificate that authority's current key signed
 * and that has not expired. Only rekey's own CAs have their key here; an external CA publishes its own CRL.
 */
export async function enrolmentCrl(deps: Deps, inventory: Inventory, profile: EnrolProfile): Promise<Buffer> {
  const reader = new MaterialReader(deps.store, inventory);
  const authority = reader.authority(profile.issuer);
  if (!authority) throw new RekeyError(`enrolment profile "${profile.name}": unknown authority "${profile.issuer}"`);
  if (authority.external)
    throw new UsageError(
      `authority "${authority.name}" is external: its CRL is published by that CA (rekey holds no key to sign one); revocations here still refuse renewals`,
    );
  const now = deps.clock.now();
  const issuer = await reader.issuer(authority.name);
  // Keyed by the CA's certificate too: a rotated CA signs a new CRL at once.
  const cacheKey = `${inventory.name}/${profile.name}/${issuer.material.fingerprint}`;
  const cached = crlCache.get(cacheKey);
  if (cached && cached.until > now.getTime()) return cached.der;
  const ca = new X509Certificate(issuer.material.cert);
  const entries = (await listEnrolled(deps, inventory.name, profile.name)).filter((r) => {
    if (!r.revoked || Date.parse(r.notAfter) < now.getTime()) return false;
    const cert = new X509Certificate(r.certificate);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  });
  const der = buildCrl({
    issuer: issuer.signer,
    entries: entries.map((r) => ({
      serial: r.serial,
      revokedAt: new Date(r.revoked?.at ?? r.at),
      reasonCode: reasonCode(r.revoked?.reason ?? 'unspecified'),
    })),
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS),
    crlNumber: Math.floor(now.getTime() / 1000),
  });
  crlCache.set(cacheKey, { der, until: now.getTime() + CRL_CACHE_MS });
  return der;
}
