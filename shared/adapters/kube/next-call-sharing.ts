/**
 * Calls of one key that arrive together share one call, which starts only after they asked: a caller joins the call
 * waiting to start, never one already running (its answer may predate what the caller just did, e.g. its own patch).
 * Per key at most one call runs and one waits. What 1,000 restart workers polling their rollouts in one namespace
 * need: without it each lists all 1,000 Deployments on every pass, and the API server spends itself on lists.
 */
export class NextCallSharing<T> {
  private readonly slots = new Map<string, { waiting?: Promise<T>; running?: Promise<T> }>();

  run(key: string, call: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = {}));
    const s = slot;
    if (s.waiting) return s.waiting;
    const start = (): Promise<T> => {
      s.waiting = undefined;
      s.running = next;
      return call();
    };
    const next: Promise<T> = (s.running ?? Promise.resolve()).then(start, start);
    const done = () => {
      if (s.running === next) s.running = undefined;
      if (!s.running && !s.waiting) this.slots.delete(key);
    };
    next.then(done, done);
    s.waiting = next;
    return next;
  }
}
