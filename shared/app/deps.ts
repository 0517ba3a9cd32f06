import type { Cluster } from '../ports/cluster.js';
import type { Clock } from '../ports/clock.js';
import type { EventBus } from '../ports/event-bus.js';
import type { HostFiles } from '../ports/host-files.js';
import type { Journal } from '../ports/journal.js';
import type { Logger } from '../ports/logger.js';
import type { Prober } from '../ports/prober.js';
import type { SecretStore } from '../ports/secret-store.js';
import type { StepQueue } from '../ports/step-queue.js';

/** Everything a use case may touch, wired by a composition root (CLI or Lambda). */
export interface Deps {
  readonly store: SecretStore;
  readonly journal: Journal;
  readonly queue: StepQueue;
  readonly events: EventBus;
  readonly clock: Clock;
  readonly log: Logger;
  /** By inventory cluster name. A cluster missing here is not reachable from this runtime. */
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly hostFiles?: HostFiles;
  readonly prober?: Prober;
  /** Cancels long waits (Lambda: from the remaining time). */
  readonly signal?: AbortSignal;
}
