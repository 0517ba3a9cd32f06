import type { RotationRecord } from '../rotation/record.js';
import { RotationStatus } from '../rotation/record.js';

/** `rekey.dev/v1alpha1` RotationRequest (deploy/crds/): a rotation asked for with kubectl. */
export const ROTATION_REQUEST = { group: 'rekey.dev', version: 'v1alpha1', kind: 'RotationRequest', plural: 'rotationrequests' } as const;
export const ROTATION_REQUEST_API_VERSION = `${ROTATION_REQUEST.group}/${ROTATION_REQUEST.version}`;

export const RequestPhase = { Pending: 'Pending', Progressing: 'Progressing', Succeeded: 'Succeeded', Failed: 'Failed' } as const;
export type RequestPhase = (typeof RequestPhase)[keyof typeof RequestPhase];

/** Condition types, as KubeDB's OpsRequest names its own. */
export const RequestCondition = { Accepted: 'Accepted', Progressing: 'Progressing', Succeeded: 'Succeeded', Failed: 'Failed' } as const;
export type RequestCondition = (typeof RequestCondition)[keyof typeof RequestCondition];

/** Reasons (CamelCase, as Kubernetes conditions carry them). */
export const RequestReason = {
  RotationStarted: 'RotationStarted',
  RotationRunning: 'RotationRunning',
  RotationCompleted: 'RotationCompleted',
  RotationFailed: 'RotationFailed',
  UnknownItem: 'UnknownItem',
  ItemBusy: 'ItemBusy',
  NotRotatable: 'NotRotatable',
} as const;
export type RequestReason = (typeof RequestReason)[keyof typeof RequestReason];

export interface Condition {
  readonly type: RequestCondition;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly lastTransitionTime: string;
  readonly reason: RequestReason;
  readonly message: string;
  readonly observedGeneration?: number;
}

export interface RequestStatus {
  readonly phase: RequestPhase;
  readonly rotationId?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
  readonly startTime?: string;
  readonly completionTime?: string;
  readonly conditions: readonly Condition[];
}

/** A RotationRequest as read from a cluster. */
export interface RotationRequest {
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  /** The object's uid: the id of the rotation it starts, so it starts one rotation however often it is seen. */
  readonly uid: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly item: string;
  readonly inventory?: string;
  readonly reason?: string;
  readonly status?: RequestStatus;
}

export const isTerminal = (phase: RequestPhase | undefined): boolean => phase === RequestPhase.Succeeded || phase === RequestPhase.Failed;

/**
 * The status a request should have, from what rekey knows: the rotation it started (if any) or why it could not
 * start one. Conditions keep their lastTransitionTime while their status does not change. Pure.
 */
export function statusOf(
  request: RotationRequest,
  outcome:
    | { readonly rotation: RotationRecord }
    | { readonly refused: typeof RequestReason.UnknownItem | typeof RequestReason.NotRotatable; readonly message: string }
    | { readonly waiting: typeof RequestReason.ItemBusy; readonly message: string },
  now: Date,
): RequestStatus {
  const at = now.toISOString();
  const previous = request.status;
  const generation = request.generation;
  const condition = (type: RequestCondition, status: Condition['status'], reason: RequestReason, message: string): Condition => {
    const before = previous?.conditions.find((c) => c.type === type);
    const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : at;
    return { type, status, reason, message, lastTransitionTime, ...(generation !== undefined && { observedGeneration: generation }) };
  };
  const base = { ...(generation !== undefined && { observedGeneration: generation }), startTime: previous?.startTime ?? at };
  if ('refused' in outcome) {
    return {
      ...base,
      phase: RequestPhase.Failed,
      message: outcome.message,
      completionTime: previous?.completionTime ?? at,
      conditions: [
        condition(RequestCondition.Accepted, 'False', outcome.refused, outcome.message),
        condition(RequestCondition.Failed, 'True', outcome.refused, outcome.message),
      ],
    };
  }
  if ('waiting' in outcome) {
    return {
      ...base,
      phase: RequestPhase.Pending,
      message: outcome.message,
      conditions: [condition(RequestCondition.Accepted, 'False', outcome.waiting, outcome.message)],
    };
  }
  const r = outcome.rotation;
  const accepted = condition(RequestCondition.Accepted, 'True', RequestReason.RotationStarted, `rotation ${r.id} of ${r.item} started`);
  switch (r.status) {
    case RotationStatus.Running: {
      const message = `rotation ${r.id} at step ${r.step}`;
      return {
        ...base,
        phase: RequestPhase.Progressing,
        rotationId: r.id,
        message,
        conditions: [accepted, condition(RequestCondition.Progressing, 'True', RequestReason.RotationRunning, message)],
      };
    }
    case RotationStatus.Completed: {
      const message = `rotation ${r.id} completed (${r.history.length} steps)`;
      return {
        ...base,
        phase: RequestPhase.Succeeded,
        rotationId: r.id,
        message,
        completionTime: r.finishedAt ?? at,
        conditions: [
          accepted,
          condition(RequestCondition.Progressing, 'False', RequestReason.RotationCompleted, message),
          condition(RequestCondition.Succeeded, 'True', RequestReason.RotationCompleted, message),
        ],
      };
    }
    case RotationStatus.Failed:
    case RotationStatus.RolledBack: {
      const message = `rotation ${r.id} ${r.status} at step ${r.step}${r.error ? `: ${r.error}` : ''}`.slice(0, 4096);
      return {
        ...base,
        phase: RequestPhase.Failed,
        rotationId: r.id,
        message,
        completionTime: r.finishedAt ?? at,
        conditions: [
          accepted,
          condition(RequestCondition.Progressing, 'False', RequestReason.RotationFailed, message),
          condition(RequestCondition.Failed, 'True', RequestReason.RotationFailed, message),
        ],
      };
    }
    default: {
      const never: never = r.status;
      throw new Error(`unknown rotation status ${String(never)}`);
    }
  }
}

/** Whether writing `next` would change what the object holds (conditions compared without their times). */
export function statusChanged(before: RequestStatus | undefined, next: RequestStatus): boolean {
  if (!before) return true;
  const key = (s: RequestStatus) =>
    JSON.stringify([s.phase, s.rotationId, s.message, s.conditions.map((c) => [c.type, c.status, c.reason, c.message])]);
  return key(before) !== key(next);
}
