import { RekeyError } from '../../domain/errors.js';
import { isStepOf, type RotationStep, type StepOf } from '../../domain/rotation/machines.js';
import { RotationKind } from '../../domain/rotation/record.js';
import { AUTHORITY_STEPS } from './authority-steps.js';
import { LEAF_STEPS } from './leaf-steps.js';
import { PASSWORD_STEPS } from './password-steps.js';
import { SIGNING_KEY_STEPS } from './signing-key-steps.js';
import type { StepHandler, StepHandlers } from './step-context.js';

/**
 * The handler table of every kind of rotation. A kind whose machine is not built in this version is `undefined`
 * (and cannot be started); a kind with a table must handle every one of its steps (the compiler checks).
 */
export const MACHINES: { readonly [K in RotationKind]: StepHandlers<StepOf<K>> | undefined } = {
  [RotationKind.Leaf]: LEAF_STEPS,
  [RotationKind.Authority]: AUTHORITY_STEPS,
  [RotationKind.Password]: PASSWORD_STEPS,
  [RotationKind.SigningKey]: SIGNING_KEY_STEPS,
};

/** Whether rotations of this kind can run. */
export const isRunnable = (kind: RotationKind): boolean => MACHINES[kind] !== undefined;

/** The handler of a record's current step. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- K ties the table's step type to the kind
export function handlerFor<K extends RotationKind>(kind: K, step: RotationStep): StepHandler {
  const table: StepHandlers<StepOf<K>> | undefined = MACHINES[kind];
  const kindName: string = kind;
  if (!table) throw new RekeyError(`${kindName} rotations are not available in this version`);
  if (!isStepOf(kind, step)) throw new RekeyError(`"${step}" is not a step of a ${kindName} rotation`);
  return table[step];
}
