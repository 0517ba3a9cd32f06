import { handleRestartEvent } from '../shared/app/restart/index.js';
import { check, rekeyEventBridgeSchema } from '../events/schemas.js';
import type { RekeyEvent } from '../shared/domain/events/types.js';
import type { EventBridgeEvent, LambdaContext } from './lib/lambda.js';
import { remainingTimeSignal } from './lib/lambda.js';
import { depsFor, lazyRuntime, type LambdaRuntime } from './lib/runtime.js';

export const RestartEventOutcome = { Handled: 'handled', Rejected: 'rejected', OtherInventory: 'other-inventory' } as const;
export type RestartEventOutcome = (typeof RestartEventOutcome)[keyof typeof RestartEventOutcome];

/**
 * The restart worker, invoked by the EventBridge rule for SecretSynced (restart planner) and RestartRequested
 * (restart each consumer, wait for its rollout, record the outcome in the rotation's journal record). A malformed
 * event goes to the events DLQ with its reason and is not retried; a failure throws, so Lambda retries the event
 * and then sends it to its on-failure destination.
 */
export function restartHandler(runtime: () => LambdaRuntime) {
  return async (event: EventBridgeEvent, context?: LambdaContext): Promise<RestartEventOutcome> => {
    const rt = runtime();
    const parsed = check(rekeyEventBridgeSchema, event);
    if (!parsed.ok) {
      const reason = `malformed rekey event: ${parsed.reason}`;
      rt.log.error('restart event rejected', { eventId: event?.id, reason });
      if (rt.eventsDeadLetterQueueUrl) {
        await rt.aws.queue.deadLetter(JSON.stringify(event ?? null), reason, { sourceMessageId: event?.id ?? 'unknown' }, rt.eventsDeadLetterQueueUrl);
      }
      return RestartEventOutcome.Rejected;
    }
    const { detail } = parsed.value;
    if (detail.inventory !== rt.inventory.name) {
      rt.log.debug('event of another inventory ignored', { inventory: detail.inventory });
      return RestartEventOutcome.OtherInventory;
    }
    const rekeyEvent = { type: parsed.value['detail-type'], detail } as RekeyEvent;
    const { signal, dispose } = remainingTimeSignal(context);
    try {
      const deps = depsFor(rt, await rt.clusters(), { signal });
      await handleRestartEvent(deps, rt.inventory, rekeyEvent);
      rt.log.info('restart event handled', { type: rekeyEvent.type, item: detail.item, ...(detail.rotationId && { rotationId: detail.rotationId }), cluster: (detail as { cluster?: unknown }).cluster });
      return RestartEventOutcome.Handled;
    } finally {
      dispose();
    }
  };
}

export const handler = restartHandler(lazyRuntime());
