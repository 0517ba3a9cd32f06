import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { assertNoSecrets, EVENT_SOURCE, type RekeyEvent } from '../../domain/events/types.js';
import type { EventBus } from '../../ports/event-bus.js';

export type EventSubscriber = (event: RekeyEvent) => Promise<void>;

/**
 * The embedded EventBus: appends each event to `<state>/events.jsonl` in EventBridge's envelope shape, then
 * delivers it to in-process subscribers (the restart worker in the CLI). Events of one publish call that go to
 * subscribers are delivered concurrently, so per-cluster restarts of a `together` policy run in parallel.
 */
export class LocalEventBus implements EventBus {
  private readonly subscribers: EventSubscriber[] = [];
  readonly published: RekeyEvent[] = [];

  constructor(private readonly file: string | undefined) {}

  subscribe(subscriber: EventSubscriber): void {
    this.subscribers.push(subscriber);
  }

  async publish(events: readonly RekeyEvent[]): Promise<void> {
    if (events.length === 0) return;
    for (const e of events) assertNoSecrets(e);
    if (this.file) {
      await mkdir(dirname(this.file), { recursive: true });
      const lines = events.map((e) => JSON.stringify({ source: EVENT_SOURCE, 'detail-type': e.type, time: e.detail.at, detail: e.detail }));
      await appendFile(this.file, lines.join('\n') + '\n', { mode: 0o600 });
    }
    this.published.push(...events);
    if (this.subscribers.length) await Promise.all(events.flatMap((e) => this.subscribers.map((s) => s(e))));
  }
}
