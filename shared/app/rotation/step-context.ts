import type { Inventory } from '../../domain/inventory/model.js';
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

export type StepResult =
  | { readonly status: 'completed' | 'skipped'; readonly message?: string; readonly patch?: Partial<Pick<RotationRecord, 'restartDeadline'>> }
  | { readonly status: 'waiting'; readonly delaySeconds: number; readonly message: string; readonly patch?: Partial<Pick<RotationRecord, 'restartDeadline'>> };

export type StepHandler = (ctx: StepContext) => Promise<StepResult>;
