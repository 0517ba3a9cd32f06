import type { Inventory } from '../../domain/inventory/model.js';
import type { RotationStep } from '../../domain/rotation/machines.js';
import type { RotationRecord } from '../../domain/rotation/record.js';
import type { Unit } from '../../domain/units.js';
import type { Deps } from '../deps.js';
import type { Material } from '../../domain/store/material.js';
import type { RenewalEntry } from '../../ports/renewal-index.js';
import type { MaterialReader } from '../materials.js';

/**
 * What the steps of one run (several steps executed in one go, see executeStep) hand each other in memory: the
 * material a leaf rotation made and tested, by store name, before its one write.
 */
export interface RunCarry {
  readonly fresh: Map<string, Material>;
  /** Renewal index entries of the versions this run wrote: recorded with the run's journal write, no call of their own. */
  readonly renewals?: Map<string, RenewalEntry>;
}

export interface StepContext {
  readonly deps: Deps;
  readonly inventory: Inventory;
  readonly record: RotationRecord;
  readonly units: readonly Unit[];
  readonly reader: MaterialReader;
  /** Shared by the steps of one run; empty at the start of each run. */
  readonly carry: RunCarry;
}

/** What a step may write into the record beside its outcome. */
export type RecordPatch = Partial<Pick<RotationRecord, 'restartDeadline' | 'authority' | 'signingKey' | 'restarts' | 'previousVersions'>>;

export const StepResultStatus = { Completed: 'completed', Skipped: 'skipped', Waiting: 'waiting' } as const;
export type StepResultStatus = (typeof StepResultStatus)[keyof typeof StepResultStatus];

export type StepResult =
  | {
      readonly status: typeof StepResultStatus.Completed | typeof StepResultStatus.Skipped;
      readonly message?: string;
      readonly patch?: RecordPatch;
    }
  | {
      readonly status: typeof StepResultStatus.Waiting;
      readonly delaySeconds: number;
      readonly message: string;
      readonly patch?: RecordPatch;
      /**
       * Waiting for restart outcomes: where the restart worker re-queues the step once the last cluster is done
       * (`Deps.restartOutcomesWake`), nothing is queued to poll; elsewhere the step polls after `delaySeconds`.
       */
      readonly wakeOnRestarts?: boolean;
    };

export type StepHandler = (ctx: StepContext) => Promise<StepResult>;

/** One handler per step of a machine: a step without a handler does not compile. */
export type StepHandlers<S extends RotationStep> = { readonly [K in S]: StepHandler };
