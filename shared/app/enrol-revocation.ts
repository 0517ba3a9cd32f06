import { randomUUID } from 'node:crypto';
import { NotFoundError, RekeyError } from '../domain/errors.js';
import { normalSerial, parseEnrolmentRecord, type EnrolmentRecord, type RevocationReason } from '../domain/enrol/record.js';
import type { EnrolProfile, Inventory } from '../domain/inventory/model.js';
import type { CrlAnswer } from '../ports/issuer.js';
import { Stage } from '../ports/secret-store.js';
import type { Deps } from './deps.js';
import { enrolRecordName, readEnrolment } from './enrol.js';
import { MaterialReader } from './materials.js';

/**
 * CRLs built in this process, by inventory and profile, reused for a minute: the route is open, and building one
 * reads every record of the profile (one store call each), so a client polling it must not cost that per request.
 * A revocation in this process drops the entry; another process (a second warm Lambda) shows it within the minute
 * (renewals are refused at once either way: they read the record).
 */
const crlCache = new Map<string, { readonly answer: CrlAnswer; readonly until: number }>();
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

/** The issuer of a profile's authority, and a reader for this request. */
async function profileIssuer(deps: Deps, inventory: Inventory, profile: EnrolProfile) {
  const reader = new MaterialReader(deps.store, inventory);
  const authority = reader.authority(profile.issuer);
  if (!authority) throw new RekeyError(`enrolment profile "${profile.name}": unknown authority "${profile.issuer}"`);
  return { reader, authority, issuer: await deps.issuers.forAuthority(authority) };
}

/**
 * Revokes an enrolled certificate: at the CA that signed it (an external CA's RevokeCertificate or ACME revokeCert;
 * nothing to call for rekey's own CA, whose CRL is built from the records), then in rekey's record, a new version
 * with the time, reason and who. Renewals with it are refused from then on, and rekey's own CA lists it in the
 * profile's CRL. A CA that refuses leaves the record as it was; a record write that fails after the CA revoked is
 * tried again with the same call, which the CA answers as done. Revoking it again changes nothing.
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
  const { issuer } = await profileIssuer(deps, inventory, request.profile);
  await issuer.revoke({ serial: found.record.serial, pem: found.record.certificate, reason: request.reason });
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
    issuer: issuer.kind,
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
 * The profile's CRL: rekey's own CA signs one now (DER) listing every revoked certificate its current key signed
 * that has not expired; an external CA's answer names the CA that publishes its CRL (and where, when the CA says):
 * rekey holds no key of that CA to sign one.
 */
export async function enrolmentCrl(deps: Deps, inventory: Inventory, profile: EnrolProfile): Promise<CrlAnswer> {
  const { reader, authority, issuer } = await profileIssuer(deps, inventory, profile);
  const now = deps.clock.now();
  // Keyed by the CA's certificate too: a rotated CA signs a new CRL at once.
  const cacheKey = `${inventory.name}/${profile.name}/${(await reader.authorityCurrent(authority.name))?.fingerprint ?? ''}`;
  const cached = crlCache.get(cacheKey);
  if (cached && cached.until > now.getTime()) return cached.answer;
  const revoked = async () =>
    (await listEnrolled(deps, inventory.name, profile.name)).flatMap((r) =>
      r.revoked && Date.parse(r.notAfter) >= now.getTime()
        ? [{ serial: r.serial, certificate: r.certificate, revokedAt: new Date(r.revoked.at), reason: r.revoked.reason }]
        : [],
    );
  const answer = await issuer.crl(revoked, { now, materials: reader });
  crlCache.set(cacheKey, { answer, until: now.getTime() + CRL_CACHE_MS });
  return answer;
}
