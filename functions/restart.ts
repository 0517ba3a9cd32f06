import { handleRestartEvent, runRestartCheck } from '../shared/app/restart/index.js';
import { check, restartFunctionEventSchema } from '../events/schemas.js';
import type { RekeyEvent } from '../shared/domain/events/types.js';
import type { Logger } from '../shared/ports/logger.js';
import type { RestartCheck } from '../shared/ports/restart-checks.js';
import { withInvocation } from './lib/invocation.js';
import type { LambdaRuntime } from './lib/runtime.js';
import { lazyRuntime, type RuntimeSource } from './lib/runtime-source.js';

export const RestartEventOutcome = { Handled: 'handled', Rejected: 'rejected', OtherInventory: 'other-inventory' } as const;
export type RestartEventOutcome = (typeof RestartEventOutcome)[keyof typeof RestartEventOutcome];

/**
 * The restart worker, invoked by the EventBridge rule for SecretSynced (restart planner) and RestartRequested
 * (restart each consumer, wait for its rollout, record the outcome in the rotation's journal record). The event
 * is checked against its detail type's schema before any cluster is connected; a malformed one goes to the events
 * DLQ with its reason and is not retried (if the DLQ refuses it, the rejection is logged and still not retried:
 * a retry cannot make it valid). A failure of the work itself throws, so Lambda retries the event and then sends
 * it to its on-failure destination.
 */
export function restartHandler(runtime: RuntimeSource) {
  return withInvocation(runtime, async (event: unknown, { rt, log, deps }): Promise<RestartEventOutcome> => {
    const parsed = check(restartFunctionEventSchema, event);
    if (!parsed.ok) return reject(rt, log, event, `malformed rekey event: ${parsed.reason}`);
    const { detail } = parsed.value;
    if (detail.inventory !== rt.inventory.name) {
      log.debug('event of another inventory ignored', { inventory: detail.inventory });
      return RestartEventOutcome.OtherInventory;
    }
    const rekeyEvent = { type: parsed.value['detail-type'], detail } as RekeyEvent;
    await handleRestartEvent(await deps(), rt.inventory, rekeyEvent);
    log.info('restart event handled', {
      type: rekeyEvent.type,
      item: detail.item,
      cluster: detail.cluster,
      ...(detail.rotationId && { rotationId: detail.rotationId }),
    });
    return RestartEventOutcome.Handled;
  });
}

async function reject(rt: LambdaRuntime, log: Logger, event: unknown, reason: string): Promise<RestartEventOutcome> {
  const id = event && typeof event === 'object' ? (event as { id?: unknown }).id : undefined;
  const eventId = typeof id === 'string' ? id : 'unknown';
  log.error('restart event rejected', { eventId, reason });
  if (rt.eventsDeadLetterQueueUrl) {
    await rt.aws.queue
      .deadLetter(JSON.stringify(event ?? null), reason, { sourceMessageId: eventId }, rt.eventsDeadLetterQueueUrl)
      .catch((e: unknown) =>
        log.error('the events DLQ refused a rejected event: it is recorded only in this log', {
          eventId,
          reason,
          error: e instanceof Error ? e.message : String(e),
        }),
      );
  }
  return RestartEventOutcome.Rejected;
}

/**
 * A later check of rollouts the worker started and did not wait for (run by the delay function when the delay
 * queue brings it back): one pass over the request, then its ending (the same events and journal entry as the
 * worker's) or another check later. A failure throws, so SQS delivers the check again.
 */
export function restartCheckHandler(runtime: RuntimeSource) {
  return withInvocation(runtime, async (check: RestartCheck, { rt, log, deps }): Promise<void> => {
    const { request } = check;
    if (request.inventory !== rt.inventory.name) {
      log.warn('restart check of another inventory dropped', { inventory: request.inventory });
      return;
    }
    await runRestartCheck(await deps(), rt.inventory, check);
  });
}

const runtime = lazyRuntime();
export const handler = restartHandler(runtime);
/** The delay function's entry for restart checks (it imports this module on its first due check). */
export const checkHandler = restartCheckHandler(runtime);
