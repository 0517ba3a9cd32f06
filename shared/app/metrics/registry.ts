import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EventType, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import type { Deps } from '../deps.js';
import { status } from '../status.js';
import { defined } from '../../domain/defined.js';

/** Outcomes counted by rekey_rotations_total and rekey_restarts_total. */
export const Outcome = { Completed: 'completed', Failed: 'failed', RolledBack: 'rolled-back' } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/**
 * rekey's Prometheus metrics, named like cert-manager's where they mean the same. Expiry and renewal instants are
 * read from the store at scrape time (the store is the truth, not what this process happened to see); counters
 * and the duration histogram are fed from rekey's own events.
 */
export class RekeyMetrics {
  readonly registry = new Registry();
  private readonly started = new Map<string, { kind: string; at: number }>();
  private readonly rotations: Counter<'kind' | 'outcome'>;
  private readonly duration: Histogram<'kind'>;
  private readonly restarts: Counter<'outcome'>;
  private readonly retries: Counter;

  constructor(source: { deps: Deps; inventory: Inventory }, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const { inventory } = source;
    const readExpiry = async () => {
      const rows = await status(source.deps, inventory);
      return rows.filter((r) => r.notAfter).map((r) => ({ row: r, item: inventory.items.get(defined(r.name.split('/')[0])) }));
    };
    new Gauge({
      name: 'rekey_certificate_expiration_timestamp_seconds',
      help: 'The date after which the certificate expires (Unix seconds), per item, unit and store version',
      labelNames: ['inventory', 'item', 'unit', 'kind', 'version'],
      registers,
      async collect() {
        this.reset();
        for (const { row, item } of await readExpiry()) {
          this.set(
            { inventory: inventory.name, item: item?.name ?? row.name, unit: row.name, kind: row.kind, version: row.version ?? '' },
            Date.parse(defined(row.notAfter)) / 1000,
          );
        }
      },
    });
    new Gauge({
      name: 'rekey_certificate_renewal_timestamp_seconds',
      help: 'The instant rekey will renew the certificate (notAfter minus renewBefore), Unix seconds',
      labelNames: ['inventory', 'item', 'unit', 'kind'],
      registers,
      async collect() {
        this.reset();
        for (const { row, item } of await readExpiry()) {
          const before = item && item.kind !== 'credential' ? item.renewBeforeMs : 0;
          this.set(
            { inventory: inventory.name, item: item?.name ?? row.name, unit: row.name, kind: row.kind },
            (Date.parse(defined(row.notAfter)) - before) / 1000,
          );
        }
      },
    });
    this.rotations = new Counter({
      name: 'rekey_rotations_total',
      help: 'Finished rotations by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'rekey_rotation_duration_seconds',
      help: 'Time from RotationStarted to the rotation finishing',
      labelNames: ['kind'],
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.restarts = new Counter({
      name: 'rekey_restarts_total',
      help: 'Consumer restarts per cluster by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.retries = new Counter({ name: 'rekey_step_retries_total', help: 'Rotation steps that failed and were queued again', registers });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'rekey_process_' });
  }

  /** Feeds counters from an event (subscribe this to the event bus). */
  observe(event: RekeyEvent): void {
    const d = event.detail;
    const id = d.rotationId;
    switch (event.type) {
      case EventType.RotationStarted:
        if (id) this.started.set(id, { kind: typeof d.kind === 'string' ? d.kind : 'unknown', at: Date.parse(d.at) });
        return;
      case EventType.RotationCompleted:
        this.finish(id, typeof d.kind === 'string' ? d.kind : (this.started.get(id ?? '')?.kind ?? 'unknown'), Outcome.Completed, d.at);
        return;
      case EventType.RotationFailed:
        this.finish(id, this.started.get(id ?? '')?.kind ?? 'unknown', Outcome.Failed, d.at);
        return;
      case EventType.RestartCompleted:
        this.restarts.inc({ outcome: Outcome.Completed });
        return;
      case EventType.RestartFailed:
        this.restarts.inc({ outcome: Outcome.Failed });
        return;
      default:
        return;
    }
  }

  stepRetried(): void {
    this.retries.inc();
  }

  private finish(id: string | undefined, kind: string, outcome: Outcome, at: string): void {
    this.rotations.inc({ kind, outcome });
    const start = id ? this.started.get(id) : undefined;
    if (start) this.duration.observe({ kind }, Math.max(0, (Date.parse(at) - start.at) / 1000));
    if (id) this.started.delete(id);
  }

  async text(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
