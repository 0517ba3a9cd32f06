import { RestartState, RotationKind, RotationStatus, Trigger, type RotationRecord } from '../../../shared/domain/rotation/record.js';

/** What the restart function's tests share: a leaf rotation of `shop/web` at its restart step, and its request. */
export const RESTART_AT = '2030-01-01T00:00:00.000Z';

/** The rotation `rot-1` of `shop/web`, running its restart step, with a restart of dc1 requested. */
export function rotationAtRestart(): RotationRecord {
  return {
    id: 'rot-1',
    inventory: 'shop',
    item: 'web',
    kind: RotationKind.Leaf,
    status: RotationStatus.Running,
    step: 'restart',
    attempt: 0,
    revision: 1,
    trigger: Trigger.Schedule,
    reason: 'test',
    startedAt: RESTART_AT,
    updatedAt: RESTART_AT,
    units: ['rekey/shop/web'],
    previousVersions: {},
    restarts: { dc1: { state: RestartState.Requested, at: RESTART_AT, workloads: ['Deployment/shop/web'] } },
    history: [],
  };
}

/** The RestartRequested event of that rotation for dc1, as EventBridge delivers it; `detail` adds or replaces fields. */
export const restartRequestedEvent = (detail: Record<string, unknown> = {}) => ({
  id: 'evt-1',
  source: 'rekey',
  'detail-type': 'RestartRequested',
  time: RESTART_AT,
  detail: {
    inventory: 'shop',
    item: 'web',
    rotationId: 'rot-1',
    at: new Date().toISOString(),
    cluster: 'dc1',
    workloads: ['Deployment/shop/web'],
    versionsHash: 'h1',
    policy: 'together',
    phase: 'serve',
    after: [],
    ...detail,
  },
});
