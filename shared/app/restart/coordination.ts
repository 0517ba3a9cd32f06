import { CLUSTER_REQUEST_CONCURRENCY } from '../../domain/restart/pace.js';
import type { Deps } from '../deps.js';

/** A counting semaphore; `acquire` resolves to the release function. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async acquire(): Promise<() => void> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else this.active--;
    };
  }
}

/**
 * What restarts running in one process share: the API requests in flight per cluster (restart patches, evictions),
 * one lane per item for `rolling` (clusters one after another), and the trust restarts still running per cluster
 * (servers wait for them). Keyed by the Deps of a composition root, so there is no module-level state shared across
 * runtimes. Across Lambda invocations this does not coordinate anything: there the rotation journal orders the
 * clusters, and each invocation handles one cluster's request.
 */
export interface Coordination {
  readonly requests: Map<string, Semaphore>;
  readonly lanes: Map<string, Semaphore>;
  readonly trust: Map<string, Set<Promise<void>>>;
}

const byDeps = new WeakMap<object, Coordination>();

export function coordinationOf(deps: Deps): Coordination {
  let c = byDeps.get(deps);
  if (!c) {
    c = { requests: new Map(), lanes: new Map(), trust: new Map() };
    byDeps.set(deps, c);
  }
  return c;
}

/** A copy of `deps` with a part swapped (a step's held-back event bus) keeps the coordination of `deps`. */
export function shareCoordination(deps: Deps, derived: Deps): void {
  byDeps.set(derived, coordinationOf(deps));
}

/** The slots for API requests to `cluster` that every restart of this process shares. */
export function requestsTo(c: Coordination, cluster: string): Semaphore {
  let s = c.requests.get(cluster);
  if (!s) {
    s = new Semaphore(CLUSTER_REQUEST_CONCURRENCY);
    c.requests.set(cluster, s);
  }
  return s;
}

export function laneOf(c: Coordination, key: string): Semaphore {
  let lane = c.lanes.get(key);
  if (!lane) {
    lane = new Semaphore(1);
    c.lanes.set(key, lane);
  }
  return lane;
}

/** Registers a trust restart in `cluster` until `done` settles. Call synchronously, before any await. */
export function holdTrust(c: Coordination, cluster: string, done: Promise<unknown>): void {
  let set = c.trust.get(cluster);
  if (!set) {
    set = new Set();
    c.trust.set(cluster, set);
  }
  const settled = done.then(
    () => undefined,
    () => undefined,
  );
  set.add(settled);
  void settled.then(() => set.delete(settled));
}

/** Resolves when no trust restart is running in `cluster` (or at `until`, whichever comes first). */
export async function trustSettled(c: Coordination, cluster: string, until: Promise<void>): Promise<void> {
  const pending = [...(c.trust.get(cluster) ?? [])];
  if (pending.length) await Promise.race([Promise.all(pending), until]);
}
