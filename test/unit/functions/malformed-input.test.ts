// Hostile or broken input to the functions (issue 9): every record is checked on its own, before any cluster is
// connected; a malformed record fails alone (partial batch response) and never the whole batch.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { delayHandler } from '../../../functions/delay.js';
import { restartHandler, RestartEventOutcome } from '../../../functions/restart.js';
import { scheduleHandler } from '../../../functions/schedule.js';
import { stepHandler } from '../../../functions/step.js';
import type { LambdaRuntime } from '../../../functions/lib/runtime.js';
import { stepRetryDelaySeconds, shouldRetryStep, StepRetry } from '../../../shared/domain/rotation/retry.js';
import { TransientError, UsageError } from '../../../shared/domain/errors.js';
import { RotationStatus } from '../../../shared/domain/rotation/record.js';
import type { Logger } from '../../../shared/ports/logger.js';
import type { StepMessage } from '../../../shared/ports/step-queue.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { sqsRecord, testRuntime, type TestRuntime } from './fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-fn-malformed-');
});
afterEach(() => removeTempDir(dir));

/** A logger that keeps what it was told. */
function recordingLog(): Logger & { lines: { level: string; message: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, message, ...(fields && { fields }) });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A runtime whose clusters cannot be connected (the kubeconfig secret unreachable); counts the attempts. */
function unreachableClusters(rt: TestRuntime): LambdaRuntime & { connects: number } {
  const out = {
    ...rt,
    connects: 0,
    clusters: async () => {
      out.connects++;
      throw new TransientError('cannot read rekey/shop/kubeconfig: connect ETIMEDOUT');
    },
  };
  return out;
}

/** A step message; fields may be anything a sender could put there (the function must refuse what is not a step). */
const step = (over: Partial<Record<keyof StepMessage, unknown>> = {}): StepMessage =>
  ({ rotationId: 'r-1', inventory: 'shop', item: 'web', step: 'issue', attempt: 0, ...over }) as StepMessage;

describe('step function: malformed batches', () => {
  it.each([
    ['a null event', null],
    ['an event without Records', {}],
    ['Records that is not an array', { Records: 'many' }],
    ['Records null', { Records: null }],
    ['a string', 'event'],
  ])('%s is logged and acknowledged, without throwing', async (_name, event) => {
    // Prepare
    const log = recordingLog();
    const rt = testRuntime(dir, { log });
    // Act
    const response = await stepHandler(() => rt)(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(log.lines).toEqual([expect.objectContaining({ level: 'error', message: 'not an SQS batch: nothing processed' })]);
  });

  it('a null record and a record without attributes fail alone; the other three records of the batch are handled', async () => {
    // Prepare
    const rt = testRuntime(dir, { log: recordingLog() });
    const ghost = sqsRecord(step({ rotationId: 'ghost-1' }));
    const garbage = sqsRecord('not json', { group: 'shop/other' });
    const other = sqsRecord(step({ inventory: 'other' }), { group: 'other/web' });
    const { attributes: _dropped, ...withoutAttributes } = sqsRecord(step({ rotationId: 'ghost-2', item: 'api' }), { group: 'shop/api' });
    // Act
    const response = await stepHandler(() => rt)({ Records: [ghost, null, withoutAttributes, garbage, other] });
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: withoutAttributes.messageId }]);
    expect(rt.queue.deadLetters.map((d) => d.attributes.sourceMessageId)).toEqual([ghost.messageId, garbage.messageId, other.messageId]);
    expect(rt.queue.deadLetters[0]!.reason).toMatch(/rotation ghost-1 is not in the journal/);
  });

  it('with the clusters unreachable, malformed records are still dead-lettered and the clusters are never asked for', async () => {
    // Prepare
    const rt = unreachableClusters(testRuntime(dir));
    const records = [
      sqsRecord('{"rotationId": 1}'),
      sqsRecord(step({ inventory: 'other' }), { group: 'other/web' }),
      sqsRecord(step({ step: 'DROP TABLE' }), { group: 'shop/api' }),
    ];
    // Act
    const response = await stepHandler(() => rt)({ Records: records });
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect((rt.aws.queue as TestRuntime['queue']).deadLetters).toHaveLength(3);
    expect(rt.connects).toBe(0);
  });

  it('with the clusters unreachable, valid steps fail alone and retryably (connected once per invocation, rotation not failed)', async () => {
    // Prepare
    const base = testRuntime(dir);
    const rt = unreachableClusters(base);
    await scheduleHandler(() => base)({});
    const [first] = base.queue.take();
    const valid = sqsRecord(first!);
    const otherGroup = sqsRecord(step({ rotationId: 'r-2', item: 'api' }), { group: 'shop/api' });
    const malformed = sqsRecord('nope', { group: 'shop/db' });
    // Act
    const response = await stepHandler(() => rt)({ Records: [valid, otherGroup, malformed] });
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: valid.messageId }, { itemIdentifier: otherGroup.messageId }]);
    expect(rt.connects).toBe(1);
    expect(base.queue.deadLetters.map((d) => d.attributes.sourceMessageId)).toEqual([malformed.messageId]);
    expect((await base.journal.get(first!.rotationId))?.status).toBe(RotationStatus.Running);
  });

  it('a dead-letter send that fails fails its record only', async () => {
    // Prepare
    const rt = testRuntime(dir);
    const failing = {
      ...rt,
      aws: { ...rt.aws, queue: Object.assign(Object.create(rt.queue), { deadLetter: async () => Promise.reject(new Error('SQS down')) }) },
    };
    const bad = sqsRecord('nope', { group: 'a' });
    const alsoBad = sqsRecord('nope', { group: 'b' });
    // Act
    const response = await stepHandler(() => failing)({ Records: [bad, alsoBad] });
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }, { itemIdentifier: alsoBad.messageId }]);
  });
});

describe('delay function: malformed batches', () => {
  it('a null event, a null record and a record without a body are handled without throwing', async () => {
    // Prepare
    const log = recordingLog();
    const queue = { relay: async () => 'ready' as const, deadLetter: async () => undefined };
    const handler = delayHandler(() => ({ queue, log }));
    // Act
    const none = await handler(null);
    const some = await handler({ Records: [null, { messageId: 'm-2', receiptHandle: 'rh', attributes: {} }] });
    // Assess
    expect(none).toEqual({ batchItemFailures: [] });
    expect(some).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-2' }] });
  });
});

describe('restart function: malformed events', () => {
  const event = (detail: Record<string, unknown>, type = 'RestartRequested') => ({
    id: 'evt-9',
    source: 'rekey',
    'detail-type': type,
    detail: {
      inventory: 'shop',
      item: 'web',
      at: '2030-01-01T00:00:00.000Z',
      cluster: 'dc1',
      workloads: ['Deployment/shop/web'],
      versionsHash: 'h',
      ...detail,
    },
  });

  it.each([
    ['workloads as a string', event({ workloads: 'Deployment/shop/web' }), /detail\.workloads: /],
    ['a budget that is not a number', event({ budget: 'four' }), /detail\.budget: /],
    ['no cluster', event({ cluster: undefined }), /detail\.cluster: /],
    [
      'a SecretSynced without its secret',
      event({ namespace: 'shop', versionId: 'v', change: 'updated' }, 'SecretSynced'),
      /detail\.secret: /,
    ],
    ['a null event', null, /\(root\): /],
  ])('rejects a RestartRequested with %s (events DLQ, not handled), before connecting any cluster', async (_name, input, reason) => {
    // Prepare
    const rt = unreachableClusters(testRuntime(dir));
    // Act
    const outcome = await restartHandler(() => rt)(input);
    // Assess
    expect(outcome).toBe(RestartEventOutcome.Rejected);
    const dead = (rt.aws.queue as TestRuntime['queue']).deadLetters;
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toMatch(reason);
    expect(rt.connects).toBe(0);
  });

  it('when the events DLQ refuses a rejected event, the rejection is logged and the handler does not throw', async () => {
    // Prepare
    const log = recordingLog();
    const rt = testRuntime(dir, { log });
    const refusing = {
      ...rt,
      aws: {
        ...rt.aws,
        queue: Object.assign(Object.create(rt.queue), { deadLetter: async () => Promise.reject(new Error('AccessDenied')) }),
      },
    };
    // Act
    const outcome = await restartHandler(() => refusing)(event({ workloads: 'x' }));
    // Assess
    expect(outcome).toBe(RestartEventOutcome.Rejected);
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'restart event rejected',
      'the events DLQ refused a rejected event: it is recorded only in this log',
    ]);
    expect(log.lines[1]!.fields).toMatchObject({ eventId: 'evt-9', error: 'AccessDenied' });
  });
});

describe('step retry policy (one for the step function and the CLI driver)', () => {
  it.each([
    [1, 2],
    [2, 4],
    [5, 32],
    [9, 300],
  ])('after failed attempt %i the step waits %i s', (attempt, seconds) => {
    expect(stepRetryDelaySeconds(attempt)).toBe(seconds);
  });

  it('in one process the waits are shorter', () => {
    expect(stepRetryDelaySeconds(6, StepRetry.maxDelaySecondsInProcess)).toBe(30);
  });

  it.each([
    ['a retryable error before the last attempt', new TransientError('x'), 4, true],
    ['a retryable error on the last attempt', new TransientError('x'), 5, false],
    ['an error that is not retryable', new UsageError('x'), 1, false],
    ['a plain Error', new Error('x'), 1, false],
  ])('%s: retry %s', (_name, error, attempt, retry) => {
    expect(shouldRetryStep(error, attempt)).toBe(retry);
  });
});
