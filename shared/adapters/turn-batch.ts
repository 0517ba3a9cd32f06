/**
 * Collects items and hands them to `send` together: once the current turn of the event loop (the messages and I/O
 * callbacks waiting now) is done, or at once when `max` are collected. The worker threads' messages go a batch at a
 * time this way: one message per item cost each thread a message event per item.
 */
export class TurnBatch<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(
    private readonly send: (items: T[]) => void,
    private readonly max = Infinity,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length >= this.max) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.send(items);
  }
}
