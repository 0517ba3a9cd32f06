import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { TransientError } from '../../domain/errors.js';
import { assertNoSecrets, EVENT_SOURCE, type RekeyEvent } from '../../domain/events/types.js';
import type { EventBus } from '../../ports/event-bus.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { awsCall } from './errors.js';

/** PutEvents limits: 10 entries and 256 KiB per request. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

export interface EventBridgeBusOptions extends AwsClientSettings {
  /** Bus name or ARN (default: `default`). */
  readonly eventBusName?: string;
  readonly client?: EventBridgeClient;
  /** Rounds of re-sending the entries PutEvents reported as failed (default 4). */
  readonly failedEntryRetries?: number;
  /** Backoff before round n (ms); default 100 * 2^n with jitter. Tests pass zero. */
  readonly backoffMs?: (round: number) => number;
}

/** Size PutEvents counts for an entry: detail-type, source, detail (UTF-8), plus time and resources. */
function entrySize(e: PutEventsRequestEntry): number {
  return Buffer.byteLength(e.DetailType ?? '') + Buffer.byteLength(e.Source ?? '') + Buffer.byteLength(e.Detail ?? '') + (e.Time ? 14 : 0);
}

/** Splits entries into PutEvents requests: at most 10 entries and 256 KiB each, order kept. */
export function batchesOf(entries: readonly PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
  const batches: PutEventsRequestEntry[][] = [];
  let batch: PutEventsRequestEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = entrySize(e);
    if (batch.length && (batch.length >= PUT_EVENTS_MAX_ENTRIES || bytes + size > PUT_EVENTS_MAX_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(e);
    bytes += size;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/**
 * EventBus on EventBridge: source `rekey`, detail-type = event type, detail = the event's detail. Every event is
 * checked for secrets first (none is sent if one fails). Entries PutEvents rejects (throttling, internal errors)
 * are re-sent with backoff; what still fails is a TransientError naming the error codes.
 */
export class EventBridgeBus implements EventBus {
  readonly client: EventBridgeClient;
  private readonly busName: string;
  private readonly retries: number;
  private readonly backoff: (round: number) => number;

  constructor(options: EventBridgeBusOptions = {}) {
    this.client = options.client ?? new EventBridgeClient(clientConfig(options));
    this.busName = options.eventBusName ?? 'default';
    this.retries = options.failedEntryRetries ?? 4;
    this.backoff = options.backoffMs ?? ((n) => 100 * 2 ** n * (0.5 + Math.random() / 2));
  }

  async publish(events: readonly RekeyEvent[]): Promise<void> {
    if (events.length === 0) return;
    for (const e of events) assertNoSecrets(e);
    const entries = events.map((e): PutEventsRequestEntry => ({
      Source: EVENT_SOURCE,
      DetailType: e.type,
      Detail: JSON.stringify(e.detail),
      EventBusName: this.busName,
      Time: new Date(e.detail.at),
    }));
    for (const batch of batchesOf(entries)) await this.put(batch);
  }

  private async put(batch: PutEventsRequestEntry[]): Promise<void> {
    let pending = batch;
    for (let round = 0; ; round++) {
      const out = await awsCall({ operation: 'EventBridge PutEvents', target: this.busName }, () =>
        this.client.send(new PutEventsCommand({ Entries: pending })),
      );
      if (!out.FailedEntryCount) return;
      // Results are in request order; an entry with an ErrorCode was not accepted.
      const results = out.Entries ?? [];
      const failed = pending.filter((_, i) => results[i]?.ErrorCode || !results[i]?.EventId);
      const codes = [...new Set(results.flatMap((r) => (r.ErrorCode ? [r.ErrorCode] : [])))];
      if (failed.length === 0) return;
      if (round >= this.retries) {
        throw new TransientError(
          `EventBridge PutEvents (${this.busName}): ${failed.length} of ${batch.length} event(s) not accepted after ${round + 1} attempt(s): ${codes.join(', ') || 'no error code'}`,
          {
            context: { failed: failed.map((f) => f.DetailType).join(',') },
          },
        );
      }
      pending = failed;
      await new Promise((r) => setTimeout(r, this.backoff(round)));
    }
  }
}
