import type { Inventory, Item } from '../../domain/inventory/model.js';
import { RotationStatus, type RotationRecord } from '../../domain/rotation/record.js';
import { allUnits, type Unit } from '../../domain/units.js';
import { mapLimit } from '../concurrency.js';
import type { Deps } from '../deps.js';
import { summarizeRotation } from '../inspect.js';
import { MaterialReader, type CurrentVersion } from '../materials.js';
import { consumerLabel, findConsumers } from './consumers.js';
import { URGENCY_ORDER, SOON_DAYS, Urgency, type ReportData, type ReportRotation, type ReportUnit } from './model.js';
import { observePlacements, type CurrentRef } from './placements.js';

const DAY_MS = 86_400_000;
const READ_CONCURRENCY = 16;
/** Finished rotations shown besides the running ones. */
const RECENT_ROTATIONS = 25;

/** Urgency from the expiry and the opening of the renewal window. */
export function urgencyOf(now: Date, notAfter: string | undefined, renewAt: string | undefined): Urgency {
  if (!renewAt) return Urgency.NotIssued;
  if (notAfter && Date.parse(notAfter) <= now.getTime()) return Urgency.Expired;
  const renew = Date.parse(renewAt);
  if (renew <= now.getTime()) return Urgency.Due;
  return renew - now.getTime() <= SOON_DAYS * DAY_MS ? Urgency.Soon : Urgency.Ok;
}

function describeUnit(unit: Unit, current: CurrentVersion | undefined, now: Date, running: RotationRecord | undefined): ReportUnit {
  const item: Item = unit.item;
  const m = current?.material;
  let dates: { notBefore?: string; notAfter?: string; renewAt?: string; adopted?: boolean } = {};
  if (m?.type === 'certificate' && item.kind !== 'credential') {
    dates = {
      notBefore: m.notBefore,
      notAfter: m.notAfter,
      renewAt: new Date(Date.parse(m.notAfter) - item.renewBeforeMs).toISOString(),
      ...(m.adopted && { adopted: true }),
    };
  } else if (m && m.type !== 'certificate' && item.kind === 'credential') {
    dates = { notBefore: m.createdAt, renewAt: new Date(Date.parse(m.createdAt) + item.rotateEveryMs).toISOString() };
  }
  const daysLeft = dates.notAfter ? Math.floor((Date.parse(dates.notAfter) - now.getTime()) / DAY_MS) : undefined;
  const signedBy = item.kind === 'certificate' ? item.issuer : item.kind === 'authority' ? item.parent : undefined;
  return {
    key: unit.key,
    item: item.name,
    kind: item.kind,
    ...(signedBy && { signedBy }),
    keyType: item.kind === 'credential' ? item.type : item.keyType,
    ...(unit.commonName && { commonName: unit.commonName }),
    ...dates,
    ...(daysLeft !== undefined && { daysLeft }),
    urgency: urgencyOf(now, dates.notAfter, dates.renewAt),
    ...(current && { version: current.versionId }),
    ...(running && { rotating: { id: running.id, step: running.step } }),
    ...(item.secret &&
      unit.secretName && { secret: { namespace: item.secret.namespace, name: unit.secretName, clusters: item.secret.clusters } }),
    ...(item.files && { files: `${item.files.dir}/${item.files.cert}` }),
    consumers: consumerLabel(item),
  };
}

function reportRotation(r: RotationRecord): ReportRotation {
  const end = r.finishedAt ?? r.updatedAt;
  const durationMs = Date.parse(end) - Date.parse(r.startedAt);
  return { ...summarizeRotation(r), item: r.item, ...(Number.isFinite(durationMs) && { durationMs }) };
}

/**
 * Reads what the report shows: every unit's current version (no key material leaves this function), rotations from
 * the journal (a few list calls, not one per item), the Secrets in the clusters this runtime reaches (one list per
 * namespace per cluster) and, in live clusters, the workloads that use them.
 */
export async function gatherReport(deps: Deps, inventory: Inventory): Promise<ReportData> {
  const now = deps.clock.now();
  const reader = new MaterialReader(deps.store, inventory);
  const units = allUnits(inventory);
  const records = (await Promise.all(Object.values(RotationStatus).map((s) => deps.journal.listByStatus(s))))
    .flat()
    .filter((r) => r.inventory === inventory.name);
  const running = new Map(records.filter((r) => r.status === RotationStatus.Running).map((r) => [r.item, r]));
  const currents = await mapLimit(units, READ_CONCURRENCY, (u) => reader.current(u.storeName));
  const currentVersions = new Map<string, CurrentRef>();
  units.forEach((u, i) => {
    const c = currents[i];
    if (c)
      currentVersions.set(u.storeName, {
        versionId: c.versionId,
        ...(c.material.type === 'certificate' && { fingerprint: c.material.fingerprint }),
      });
  });
  const reportUnits = units.map((u, i) => describeUnit(u, currents[i], now, running.get(u.item.name)));

  const checkedSecrets = deps.clusters.size > 0;
  const checkedWorkloads = [...deps.clusters.values()].some((c) => c.workloads);
  const placements = checkedSecrets ? await observePlacements(deps, inventory, units, currentVersions) : [];
  const foundConsumers = checkedWorkloads ? await findConsumers(deps, inventory, [...inventory.items.values()]) : [];

  const byNewest = (a: RotationRecord, b: RotationRecord) => b.startedAt.localeCompare(a.startedAt);
  const rotations = [
    ...records.filter((r) => r.status === RotationStatus.Running).sort(byNewest),
    ...records
      .filter((r) => r.status !== RotationStatus.Running)
      .sort(byNewest)
      .slice(0, RECENT_ROTATIONS),
  ].map(reportRotation);

  // Most urgent first, then soonest expiry, so every list the page shows starts with what needs attention.
  const rank = (u: ReportUnit) => URGENCY_ORDER.indexOf(u.urgency);
  reportUnits.sort((a, b) => rank(a) - rank(b) || (a.renewAt ?? '').localeCompare(b.renewAt ?? '') || a.key.localeCompare(b.key));
  return {
    inventory: inventory.name,
    generatedAt: now.toISOString(),
    clusters: inventory.clusters.map((c) => c.name),
    units: reportUnits,
    placements,
    foundConsumers,
    checked: { secrets: checkedSecrets, workloads: checkedWorkloads },
    rotations,
  };
}
