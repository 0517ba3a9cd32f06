/**
 * The rotation journal in memory, with the DynamoDB journal's contract (conditional writes on the revision, one
 * running rotation per item, leases) and a latency per call. Each call is counted under the DynamoDB operation
 * the real adapter makes for it. DynamoDB's own limits are not modelled (on-demand tables scale past this load).
 */
import { ConflictError, RotationLockedError } from '../../../shared/domain/errors.js';
import { isFinished, leaseExpired, type RotationRecord, type RotationStatus } from '../../../shared/domain/rotation/record.js';
import { LeaseHeldError, type Journal, type LeaseClaim } from '../../../shared/ports/journal.js';
import type { VirtualTime } from './virtual-time.js';

export class MemoryJournal implements Journal {
  private readonly records = new Map<string, RotationRecord>();
  private readonly byItem = new Map<string, string[]>();
  private readonly locks = new Map<string, string>();
  readonly calls = new Map<string, number>();

  constructor(
    private readonly time: VirtualTime,
    private readonly callMs = 8,
  ) {}

  private async call(op: string): Promise<void> {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    await this.time.sleep(this.callMs);
  }

  private itemKey(r: Pick<RotationRecord, 'inventory' | 'item'>): string {
    return `${r.inventory}/${r.item}`;
  }

  async create(record: RotationRecord): Promise<void> {
    await this.call('TransactWriteItems');
    if (this.records.has(record.id)) throw new ConflictError(`rotation ${record.id} already exists`, { rotationId: record.id });
    const key = this.itemKey(record);
    if (!isFinished(record)) {
      const holder = this.locks.get(key);
      const held = holder ? this.records.get(holder) : undefined;
      if (holder && holder !== record.id && held && !isFinished(held)) throw new RotationLockedError(record.item, holder, record.id);
      this.locks.set(key, record.id);
    }
    this.records.set(record.id, structuredClone(record));
    this.byItem.set(key, [...(this.byItem.get(key) ?? []), record.id]);
  }

  async get(rotationId: string): Promise<RotationRecord | undefined> {
    await this.call('GetItem');
    const r = this.records.get(rotationId);
    return r && structuredClone(r);
  }

  async update(record: RotationRecord): Promise<void> {
    await this.call('UpdateItem');
    const current = this.records.get(record.id);
    if (!current || current.revision !== record.revision - 1) {
      throw new ConflictError(
        `rotation ${record.id} changed since it was read (revision ${current?.revision ?? 'none'}, expected ${record.revision - 1})`,
        { rotationId: record.id },
      );
    }
    this.records.set(record.id, structuredClone(record));
    if (isFinished(record) && this.locks.get(this.itemKey(record)) === record.id) this.locks.delete(this.itemKey(record));
  }

  async listByItem(inventory: string, item: string): Promise<RotationRecord[]> {
    await this.call('Query');
    return (this.byItem.get(`${inventory}/${item}`) ?? []).flatMap((id) => {
      const r = this.records.get(id);
      return r ? [structuredClone(r)] : [];
    });
  }

  async listByStatus(status: RotationStatus): Promise<RotationRecord[]> {
    await this.call('Query');
    return [...this.records.values()].filter((r) => r.status === status).map((r) => structuredClone(r));
  }

  async claimLease(rotationId: string, claim: LeaseClaim): Promise<RotationRecord | undefined> {
    await this.call('UpdateItem');
    const current = this.records.get(rotationId);
    if (!current || isFinished(current)) return current && structuredClone(current);
    const held = current.lease;
    const free = !held || held.owner === claim.owner || claim.force || leaseExpired(held, new Date(claim.now));
    if (!free) throw new LeaseHeldError(rotationId, held);
    const claimed: RotationRecord = {
      ...current,
      lease: { owner: claim.owner, expiresAt: claim.expiresAt },
      revision: current.revision + 1,
    };
    this.records.set(rotationId, structuredClone(claimed));
    return structuredClone(claimed);
  }

  async sweepLocks(): Promise<string[]> {
    await this.call('Scan');
    const freed: string[] = [];
    for (const [key, id] of this.locks) {
      const r = this.records.get(id);
      if (!r || isFinished(r)) {
        this.locks.delete(key);
        freed.push(key);
      }
    }
    return freed;
  }

  /** Every record (no call counted: the simulation's own bookkeeping). */
  all(): IterableIterator<RotationRecord> {
    return this.records.values();
  }
}
