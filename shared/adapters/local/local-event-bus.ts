import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { assertNoSecrets, EVENT_SOURCE, type RekeyEvent } from '../../domain/events/types.js';
import type { EventBus } from '../../ports/event-bus.js';

export type EventSubscriber = (event: RekeyEvent) => Promise<void>;

/**
 * The embedded EventBus: appends each event to `<state>/events.jsonl` in EventBridge's envelope shape, then
 * delivers it to in-process subscribers (the restart worker in the CLI). Events of one publish call that go to
 * subscribers are delivered concurrently, so per-cluster restarts of a `together` policy run in parallel.
 * Appends group like the vault's commits: publish calls that arrive while an append is under way share the next
 * one (in call order), so an apply of thousands of units appends a few hundred times, not once per unit.
 */
export class LocalEventBus implements EventBus {
  private readonly subscribers: EventSubscriber[] = [];
  /** Every event published, in order, while `keep` is on (tests read them); empty otherwise. */
  readonly published: RekeyEvent[] = [];
  private readonly keep: boolean;
  private folder: Promise<unknown> | undefined;
  private queue: Array<{ readonly text: string; readonly resolve: () => void; readonly reject: (e: unknown) => void }> = [];
  private appending = false;

  /**
   * `keep` (default on): hold every event in `published`. A long-lived or large run turns it off: an apply of 10,000
   * certificates held its 30,000 events to the end, `rekey serve` every event it ever published.
   */
  constructor(
    private readonly file: string | undefined,
    options: { keep?: boolean } = {},
  ) {
    this.keep = options.keep ?? true;
  }

  subscribe(subscriber: EventSubscriber): void {
    this.subscribers.push(subscriber);
  }

  async publish(events: readonly RekeyEvent[]): Promise<void> {
    if (events.length === 0) return;
    for (const e of events) assertNoSecrets(e);
    if (this.file) {
      const lines = events.map((e) => JSON.stringify({ source: EVENT_SOURCE, 'detail-type': e.type, time: e.detail.at, detail: e.detail }));
      await this.append(this.file, lines.join('\n') + '\n');
    }
    if (this.keep) this.published.push(...events);
    if (this.subscribers.length) await Promise.all(events.flatMap((e) => this.subscribers.map((s) => s(e))));
  }

  /** Resolves once `text` is in the file (after everything queued before it). */
  private append(file: string, text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ text, resolve, reject });
      if (this.appending) return;
      this.appending = true;
      void this.drain(file);
    });
  }

  private async drain(file: string): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        this.folder ??= mkdir(dirname(file), { recursive: true });
        await this.folder;
        await appendFile(file, batch.map((b) => b.text).join(''), { mode: 0o600 });
        for (const b of batch) b.resolve();
      } catch (e) {
        this.folder = undefined;
        for (const b of batch) b.reject(e);
      }
    }
    // Set in the same turn as the empty-queue check: a publish queued after this starts a new drain.
    this.appending = false;
  }
}
