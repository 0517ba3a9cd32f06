import type { UnitStatus } from '../status.js';

/** The answer of `GET /v1/items`, kept as the JSON text it is sent as. */
export interface ItemSummary {
  readonly items: readonly UnitStatus[];
  /** `{"inventory":..., "items":[...]}`, serialised once per computation. */
  readonly body: string;
}

export interface ItemSummariesOptions {
  /**
   * A marker of what this process has written (`ChangeCounter.value`): a different value than the one read when a
   * summary was computed means it may be stale. Absent: only `maxAgeMs` bounds it.
   */
  readonly version?: () => number | string;
  /**
   * The longest a summary is answered after its computation started; writes this process does not see (another
   * Lambda container, the step function) show within this time. 0: computed on every request.
   */
  readonly maxAgeMs: number;
  readonly now?: () => number;
}

interface Entry {
  readonly version: number | string | undefined;
  readonly startedAt: number;
  readonly value: Promise<ItemSummary>;
}

/**
 * The read model of `GET /v1/items`: the status of every unit (which reads and decrypts every current version and
 * the journal's records) computed once and answered until this process writes anything (`version` changes) or it
 * is `maxAgeMs` old, whichever comes first. The rule, for every answer: its computation started after the last
 * write this process finished, and less than `maxAgeMs` ago. Concurrent requests share one computation (also under
 * that rule); a failed computation is not kept.
 */
export class ItemSummaries {
  private entry: Entry | undefined;
  private readonly now: () => number;

  constructor(
    private readonly inventory: string,
    private readonly compute: () => Promise<readonly UnitStatus[]>,
    private readonly options: ItemSummariesOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The summary, computed now or shared with one that is still current. */
  get(): Promise<ItemSummary> {
    const now = this.now();
    const version = this.options.version?.();
    const e = this.entry;
    if (e !== undefined && e.version === version && now - e.startedAt < this.options.maxAgeMs) return e.value;
    const value = this.compute().then((items) => ({ items, body: JSON.stringify({ inventory: this.inventory, items }) }));
    const entry: Entry = { version, startedAt: now, value };
    this.entry = entry;
    value.catch(() => {
      if (this.entry === entry) this.entry = undefined;
    });
    return value;
  }

  /** Drops the summary: the next request computes it again. */
  invalidate(): void {
    this.entry = undefined;
  }
}
