import { RotationKind } from './record.js';
import { defined } from '../defined.js';

/**
 * The steps of each kind of rotation, in order. Steps before `promote` can be undone by discarding the
 * pending version; after it, a failed verification rolls back to AWSPREVIOUS.
 */
export const LeafStep = {
  Issue: 'issue',
  Test: 'test',
  Promote: 'promote',
  Sync: 'sync',
  Restart: 'restart',
  Verify: 'verify',
} as const;
export type LeafStep = (typeof LeafStep)[keyof typeof LeafStep];

/**
 * A CA with trust overlap: the new CA is issued pending and tested, published next to the old one in every
 * bundle that trusts the old one, trust consumers restart, and only then is it promoted and its children
 * (intermediates, then leaves) re-issued under it. Evidence, not a timer, ends the overlap: once every child is
 * verified on the new CA, the old CA leaves the bundles and trust consumers restart once more.
 */
export const AuthorityStep = {
  Issue: 'issue',
  Test: 'test',
  PublishBundle: 'publish-bundle',
  RestartTrust: 'restart-trust',
  Promote: 'promote',
  Reissue: 'reissue',
  RestartChildren: 'restart-children',
  Verify: 'verify',
  DropOld: 'drop-old',
  RestartDropped: 'restart-dropped',
} as const;
export type AuthorityStep = (typeof AuthorityStep)[keyof typeof AuthorityStep];

/**
 * A password (seed 001): the owner object is paused, the new password is made pending, set in the database (the
 * inactive login with `alternating`), tried, promoted, synced; consumers restart, the owner resumes, and a login
 * with what the Secret now holds verifies it. Before promotion a failure sets the database back and resumes the
 * owner (see password-steps.ts).
 */
export const PasswordStep = {
  Pause: 'pause',
  Issue: 'issue',
  SetInDatabase: 'set-in-database',
  TestLogin: 'test-login',
  Promote: 'promote',
  Sync: 'sync',
  Restart: 'restart',
  Resume: 'resume',
  Verify: 'verify',
} as const;
export type PasswordStep = (typeof PasswordStep)[keyof typeof PasswordStep];

/**
 * A JWT signing key (seed 003): the owners of the key and of its tokens (`pause`) are paused; the new key is issued
 * pending and its public half published in the key set beside the old one; verifiers restart (or a propagation time
 * passes) so they accept both; then the new key signs (`activate`, the machine's promotion), the tokens minted from
 * it are minted again, signers and token consumers restart and the owners resume; the old public key stays in the
 * key set until the longest token it signed (`tokenLifetime`) has expired, then it is removed (only a public key
 * leaves a set: no owner is paused for the overlap's hours).
 */
export const SigningKeyStep = {
  Pause: 'pause',
  Issue: 'issue',
  PublishKeySet: 'publish-key-set',
  AwaitVerifiers: 'await-verifiers',
  Activate: 'activate',
  RemintTokens: 'remint-tokens',
  RestartSigners: 'restart-signers',
  Resume: 'resume',
  KeepOld: 'keep-old',
  RemoveOld: 'remove-old',
} as const;
export type SigningKeyStep = (typeof SigningKeyStep)[keyof typeof SigningKeyStep];

/** The steps of one kind of rotation. */
export type StepOf<K extends RotationKind> = {
  readonly [RotationKind.Leaf]: LeafStep;
  readonly [RotationKind.Authority]: AuthorityStep;
  readonly [RotationKind.Password]: PasswordStep;
  readonly [RotationKind.SigningKey]: SigningKeyStep;
}[K];

/** Any step of any machine: what a journal record and a step message name. */
export type RotationStep = StepOf<RotationKind>;

export const DONE = 'done';

/** Each machine's steps in order; the order of an `as const` object's values is its declaration order. */
export const STEPS: { readonly [K in RotationKind]: readonly StepOf<K>[] } = {
  [RotationKind.Leaf]: Object.values(LeafStep),
  [RotationKind.Authority]: Object.values(AuthorityStep),
  [RotationKind.Password]: Object.values(PasswordStep),
  [RotationKind.SigningKey]: Object.values(SigningKeyStep),
};

/** Every step name of every machine, for message validation. */
export const ALL_STEPS: readonly RotationStep[] = [...new Set(Object.values(STEPS).flat())];

const stepsOf = (kind: RotationKind): readonly RotationStep[] => STEPS[kind];

/** Whether `step` belongs to the machine of `kind`. */
export function isStepOf<K extends RotationKind>(kind: K, step: RotationStep): step is StepOf<K> {
  return stepsOf(kind).includes(step);
}

export function firstStep<K extends RotationKind>(kind: K): StepOf<K> {
  return defined(STEPS[kind][0]);
}

/** The step after `step`, or DONE. */
export function nextStep(kind: RotationKind, step: RotationStep): RotationStep | typeof DONE {
  const steps = stepsOf(kind);
  const i = steps.indexOf(step);
  if (i < 0) throw new Error(`"${step}" is not a step of a ${kind} rotation`);
  return steps[i + 1] ?? DONE;
}

/** The step of each machine where the new version becomes current (every machine has one). */
export const PROMOTION_STEP: { readonly [K in RotationKind]: StepOf<K> } = {
  [RotationKind.Leaf]: LeafStep.Promote,
  [RotationKind.Authority]: AuthorityStep.Promote,
  [RotationKind.Password]: PasswordStep.Promote,
  [RotationKind.SigningKey]: SigningKeyStep.Activate,
};

/** True while the new version is still pending, so a failure discards it instead of rolling back. */
export function beforePromotion(kind: RotationKind, step: RotationStep): boolean {
  const steps = stepsOf(kind);
  return steps.indexOf(step) < steps.indexOf(PROMOTION_STEP[kind]);
}

/** Whether `a` comes after `b` in the machine (DONE is last). */
export function isAfter(kind: RotationKind, a: RotationStep | typeof DONE, b: RotationStep | typeof DONE): boolean {
  const order = (s: RotationStep | typeof DONE) => (s === DONE ? Infinity : stepsOf(kind).indexOf(s));
  return order(a) > order(b);
}

/** What a user follows during an authority rotation: the phases the steps belong to. */
export const AuthorityPhase = {
  Issuing: 'issuing',
  Overlap: 'overlap',
  Reissuing: 'reissuing',
  Verifying: 'verifying',
  Dropping: 'dropping',
} as const;
export type AuthorityPhase = (typeof AuthorityPhase)[keyof typeof AuthorityPhase];

export const AUTHORITY_PHASE: { readonly [S in AuthorityStep]: AuthorityPhase } = {
  [AuthorityStep.Issue]: AuthorityPhase.Issuing,
  [AuthorityStep.Test]: AuthorityPhase.Issuing,
  [AuthorityStep.PublishBundle]: AuthorityPhase.Overlap,
  [AuthorityStep.RestartTrust]: AuthorityPhase.Overlap,
  [AuthorityStep.Promote]: AuthorityPhase.Reissuing,
  [AuthorityStep.Reissue]: AuthorityPhase.Reissuing,
  [AuthorityStep.RestartChildren]: AuthorityPhase.Reissuing,
  [AuthorityStep.Verify]: AuthorityPhase.Verifying,
  [AuthorityStep.DropOld]: AuthorityPhase.Dropping,
  [AuthorityStep.RestartDropped]: AuthorityPhase.Dropping,
};
