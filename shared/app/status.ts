import type { Inventory } from '../domain/inventory/model.js';
import { allUnits } from '../domain/units.js';
import type { Deps } from './deps.js';
import { MaterialReader } from './materials.js';

export interface UnitStatus {
  readonly name: string;
  readonly kind: string;
  readonly version?: string;
  readonly notAfter?: string;
  readonly serial?: string;
  readonly fingerprint?: string;
  readonly issuer?: string;
  readonly adopted?: boolean;
  /** Latest rotation of the item: status, step and when. */
  readonly rotation?: {
    readonly id: string;
    readonly status: string;
    readonly step: string;
    readonly updatedAt: string;
    readonly error?: string;
  };
  /** The reload of the unit's host files has not succeeded since they changed (retried by the next apply). */
  readonly reloadOwed?: { readonly command: string; readonly since: string; readonly attempts: number; readonly lastError?: string };
}

/** Per unit: current version, expiry and the latest rotation. Never returns key material. */
export async function status(deps: Deps, inventory: Inventory): Promise<UnitStatus[]> {
  const reader = new MaterialReader(deps.store, inventory);
  const out: UnitStatus[] = [];
  const latest = new Map<string, UnitStatus['rotation']>();
  for (const item of inventory.items.values()) {
    const records = await deps.journal.listByItem(inventory.name, item.name);
    const last = records.at(-1);
    if (last)
      latest.set(item.name, {
        id: last.id,
        status: last.status,
        step: last.step,
        updatedAt: last.updatedAt,
        ...(last.error && { error: last.error }),
      });
  }
  const owed = new Map((await deps.hostFiles?.ledger.owed(inventory.name))?.map((o) => [o.command, o]) ?? []);
  for (const unit of allUnits(inventory)) {
    const current = await reader.current(unit.storeName);
    const m = current?.material;
    const rotation = latest.get(unit.item.name);
    out.push({
      name: unit.key,
      kind: unit.item.kind,
      ...(current && { version: current.versionId }),
      ...(m?.type === 'certificate' && {
        notAfter: m.notAfter,
        serial: m.serial,
        fingerprint: m.fingerprint,
        ...(m.issuer && { issuer: m.issuer }),
        ...(m.adopted && { adopted: true }),
      }),
      ...(rotation && { rotation }),
      ...reloadOwedOf(unit.item.files?.reload),
    });
  }
  return out;

  function reloadOwedOf(command: string | undefined): Pick<UnitStatus, 'reloadOwed'> {
    const o = command === undefined ? undefined : owed.get(command);
    return o
      ? { reloadOwed: { command: o.command, since: o.since, attempts: o.attempts, ...(o.lastError && { lastError: o.lastError }) } }
      : {};
  }
}
