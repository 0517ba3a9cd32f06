import type { Inventory } from '../../domain/inventory/model.js';
import type { RotationStep } from '../../domain/rotation/machines.js';
import type { RotationRecord } from '../../domain/rotation/record.js';
import type { Unit } from '../../domain/units.js';
import type { Deps } from '../deps.js';
import type { MaterialReader } from '../materials.js';

export interface StepContext {
  readonly deps: Deps;
  readonly inventory: Inventory;
  readonly record: RotationRecord;
  readonly units: readonly Unit[];
  readonly reader: MaterialReader;
}

/** What a step may write into the record beside its outcome. */
export type RecordPatch = Partial<Pick<RotationRecord, 'restartDeadline' | 'authority' | 'signingKey'>>;

export const StepResultStatus = { Completed: 'completed', Skipped: 'skipped', Waiting: 'waiting' } as const;
export type StepResultStatus = (typeof StepResultStatus)[keyof typeof StepResultStatus];

export type StepResult =
  | { readonly status: typeof StepResultStatus.Completed | typeof StepResultStatus.Skipped; readonly message?: string; readonly patch?: RecordPatch }
  | { readonly status: typeof StepResultStatus.Waiting; readonly delaySeconds: number; readonly message: string; readonly patch?: RecordPatch };

export type StepHandler = (ctx: StepContext) => Promise<StepResult>;

/** One handler per step of a machine: a step without a handler does not compile. */
export type StepHandlers<S extends RotationStep> = { readonly [K in S]: StepHandler };
