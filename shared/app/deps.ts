import type { Cluster } from '../ports/cluster.js';
import type { Clock } from '../ports/clock.js';
import type { Databases } from '../ports/database.js';
import type { EventBus } from '../ports/event-bus.js';
import type { HostFiles } from '../ports/host-files.js';
import type { Journal } from '../ports/journal.js';
import type { Logger } from '../ports/logger.js';
import type { Prober } from '../ports/prober.js';
import type { RenewalIndex } from '../ports/renewal-index.js';
import type { SecretStore } from '../ports/secret-store.js';
import type { StepQueue } from '../ports/step-queue.js';
import type { RestartCheckQueue } from '../ports/restart-checks.js';
import type { RotationRecord } from '../domain/rotation/record.js';
import type { Inventory } from '../domain/inventory/model.js';
import type { Issuers } from '../ports/issuer.js';
import type { LeafOffload } from '../ports/leaf-offload.js';

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
  /** Sessions on credentials' databases (password rotations with `database`); absent: such rotations fail clearly. */
  readonly databases?: Databases;
  /**
   * Asks for the restarts of a rotation's consumers (publishes RestartRequested per cluster and records them in
   * the journal). Absent where no live cluster is connected (manifests on disk): restarts are then skipped.
   */
  readonly restarts?: { request(inventory: Inventory, record: RotationRecord): Promise<void> };
  /** The issuer of each authority: rekey's own CA, AWS Private CA or ACME (`issuerRegistry`). */
  readonly issuers: Issuers;
  /**
   * The restart worker re-queues a rotation's waiting restart step when it records the last open cluster's outcome
   * (the Lambda runtime), so that step queues no poll of its own; the schedule's scan re-queues a rotation whose
   * worker was lost. Absent: the step polls (the CLI, whose queue drains while nothing is queued).
   */
  readonly restartOutcomesWake?: boolean;
  /**
   * Where the restart worker leaves rollouts it has started to a later check instead of waiting for them (Lambda:
   * the delay queue, so a restart holds no execution while pods roll). Absent: the worker waits in-process (CLI).
   */
  readonly restartChecks?: RestartCheckQueue;
  /**
   * Told each time a rotation's progress is recorded (a step done or waiting, the rotation failed): the Lambda runtime
   * writes the status of the RotationRequest that started it back at once. Must not throw. Absent: nothing is told
   * (the CLI writes a request's status when its run ends).
   */
  readonly rotationRecorded?: (record: RotationRecord) => Promise<void>;
  /**
   * Renewal instants of every unit (Lambda: rows in the journal table), kept by promotions and the scan's full
   * reconcile; with it the scheduled scan reads only what is due. Absent: every scan reads every unit.
   */
  readonly renewals?: RenewalIndex;
  /**
   * Makes own-CA leaves off the main thread once a run issues many (the CLI's signing pool). Absent (Lambda): every
   * leaf is made in process.
   */
  readonly leafOffload?: LeafOffload;
  /** Cancels long waits (Lambda: from the remaining time). */
  readonly signal?: AbortSignal;
}
