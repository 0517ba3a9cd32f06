import { RotationKind } from './record.js';

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

export const AuthorityStep = {
  Issue: 'issue',
  Test: 'test',
  Promote: 'promote',
  PublishBundle: 'publish-bundle',
  RestartTrust: 'restart-trust',
  ReissueLeaves: 'reissue-leaves',
  VerifyLeaves: 'verify-leaves',
  DropOld: 'drop-old',
  Restart: 'restart',
} as const;

export const PasswordStep = {
  Pause: 'pause',
  Issue: 'issue',
  SetInDatabase: 'set-in-database',
  Test: 'test',
  Promote: 'promote',
  Sync: 'sync',
  Restart: 'restart',
  RetireOld: 'retire-old',
  Resume: 'resume',
} as const;

export const SigningKeyStep = {
  Issue: 'issue',
  PublishKeySet: 'publish-key-set',
  Promote: 'promote',
  Sync: 'sync',
  Restart: 'restart',
  RetireOld: 'retire-old',
} as const;

export const DONE = 'done';

export const STEPS: Readonly<Record<RotationKind, readonly string[]>> = {
  [RotationKind.Leaf]: Object.values(LeafStep),
  [RotationKind.Authority]: Object.values(AuthorityStep),
  [RotationKind.Password]: Object.values(PasswordStep),
  [RotationKind.SigningKey]: Object.values(SigningKeyStep),
};

export function firstStep(kind: RotationKind): string {
  return STEPS[kind][0]!;
}

/** The step after `step`, or DONE. */
export function nextStep(kind: RotationKind, step: string): string {
  const steps = STEPS[kind];
  const i = steps.indexOf(step);
  if (i < 0) throw new Error(`"${step}" is not a step of a ${kind} rotation`);
  return steps[i + 1] ?? DONE;
}

/** True while the new version is still pending, so a failure discards it instead of rolling back. */
export function beforePromotion(kind: RotationKind, step: string): boolean {
  const steps = STEPS[kind];
  return steps.indexOf(step) < steps.indexOf('promote');
}

/** Whether `a` comes after `b` in the machine (DONE is last). */
export function isAfter(kind: RotationKind, a: string, b: string): boolean {
  const order = (s: string) => (s === DONE ? Infinity : STEPS[kind].indexOf(s));
  return order(a) > order(b);
}
