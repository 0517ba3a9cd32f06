/**
 * SQS FIFO semantics that bound rekey's step throughput: messages of one group are delivered in order and only
 * one at a time (a group is blocked while its head message is in flight, i.e. received and neither deleted nor
 * visible again); a message becomes visible again when its visibility timeout ends; a deduplication id seen in
 * the last five minutes is accepted and dropped. Ready groups are kept in arrival order, so receiving is cheap
 * however many groups exist.
 */

export interface FifoMessage<T> {
  readonly messageId: string;
  readonly group: string;
  readonly body: T;
  receiveCount: number;
  /** Set while in flight. */
  receipt?: string;
  /** Until when the message is in flight (invisible). */
  invisibleUntil: number;
}

export interface FifoClock {
  nowMs(): number;
  schedule(delayMs: number, fire: () => void): unknown;
}

export const DEDUP_WINDOW_MS = 5 * 60_000;

export class FifoQueue<T> {
  private readonly groups = new Map<string, FifoMessage<T>[]>();
  /** Groups whose head message may be received now (insertion order = fairness). */
  private readonly ready = new Set<string>();
  private readonly inFlight = new Map<string, FifoMessage<T>>();
  private readonly dedup = new Map<string, number>();
  private nextId = 0;
  private nextReceipt = 0;
  private prunedAt = 0;
  sent = 0;
  deduplicated = 0;
  /** Called whenever a group becomes ready (the pollers wake up). */
  onReady: () => void = () => undefined;

  constructor(
    private readonly clock: FifoClock,
    private readonly visibilityTimeoutMs: number,
  ) {}

  /** Queues a message; false when its deduplication id was seen within the window (accepted, not queued). */
  send(group: string, deduplicationId: string, body: T): boolean {
    const now = this.clock.nowMs();
    const seen = this.dedup.get(deduplicationId);
    if (seen !== undefined && now - seen < DEDUP_WINDOW_MS) {
      this.deduplicated++;
      return false;
    }
    this.dedup.set(deduplicationId, now);
    // Ids older than the window no longer matter; dropping them once per window keeps the map small and cheap.
    if (now - this.prunedAt >= DEDUP_WINDOW_MS) {
      this.pruneDedup(now);
      this.prunedAt = now;
    }
    const message: FifoMessage<T> = { messageId: `m-${this.nextId++}`, group, body, receiveCount: 0, invisibleUntil: 0 };
    const list = this.groups.get(group);
    this.sent++;
    if (list) {
      list.push(message);
      return true;
    }
    this.groups.set(group, [message]);
    this.ready.add(group);
    this.onReady();
    return true;
  }

  private pruneDedup(now: number): void {
    for (const [id, at] of this.dedup) if (now - at >= DEDUP_WINDOW_MS) this.dedup.delete(id);
  }

  /** Receives up to `max` messages, at most the head of each ready group; each group is blocked until settled. */
  receive(max: number): FifoMessage<T>[] {
    const out: FifoMessage<T>[] = [];
    const now = this.clock.nowMs();
    for (const group of this.ready) {
      if (out.length >= max) break;
      this.ready.delete(group);
      const head = this.groups.get(group)?.[0];
      if (!head) continue;
      head.receiveCount++;
      head.receipt = `r-${this.nextReceipt++}`;
      head.invisibleUntil = now + this.visibilityTimeoutMs;
      this.inFlight.set(head.receipt, head);
      this.expireLater(head, head.receipt, this.visibilityTimeoutMs);
      out.push(head);
    }
    return out;
  }

  /** Messages waiting or in flight. */
  get depth(): number {
    let n = 0;
    for (const list of this.groups.values()) n += list.length;
    return n;
  }

  get readyGroups(): number {
    return this.ready.size;
  }

  /** Deletes a received message: its group's next message becomes deliverable. */
  delete(receipt: string): void {
    const m = this.inFlight.get(receipt);
    if (!m) return;
    this.inFlight.delete(receipt);
    const list = this.groups.get(m.group);
    if (!list) return;
    const i = list.indexOf(m);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) {
      this.groups.delete(m.group);
      return;
    }
    if (i === 0) this.makeReady(m.group);
  }

  /** ChangeMessageVisibility: the message (and so its group) stays invisible `seconds` from now. */
  changeVisibility(receipt: string, seconds: number): void {
    const m = this.inFlight.get(receipt);
    if (!m) return;
    m.invisibleUntil = this.clock.nowMs() + seconds * 1000;
    this.expireLater(m, receipt, seconds * 1000);
  }

  private expireLater(m: FifoMessage<T>, receipt: string, ms: number): void {
    this.clock.schedule(ms, () => {
      // Still in flight under this receipt and its time has come: visible again, the group unblocks.
      if (m.receipt !== receipt || !this.inFlight.has(receipt) || this.clock.nowMs() < m.invisibleUntil) return;
      this.inFlight.delete(receipt);
      m.receipt = undefined;
      this.makeReady(m.group);
    });
  }

  private makeReady(group: string): void {
    if (this.ready.has(group)) return;
    this.ready.add(group);
    this.onReady();
  }
}
