import { beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeBus } from '../../../shared/adapters/aws/eventbridge-bus.js';
import { SqsPoller } from '../../../shared/adapters/aws/sqs-poller.js';
import { deduplicationIdOf, SqsStepQueue, type DelayedStep } from '../../../shared/adapters/aws/sqs-step-queue.js';
import { EventType, makeEvent } from '../../../shared/domain/events/types.js';
import type { StepMessage } from '../../../shared/ports/step-queue.js';
import { freshResources, useMoto } from './moto.js';

let r: Awaited<ReturnType<typeof freshResources>>;
let queue: SqsStepQueue;
let poller: SqsPoller;

beforeAll(async () => {
  await useMoto();
  r = await freshResources('queue');
  queue = new SqsStepQueue({
    queueUrl: r.stepQueueUrl,
    delayQueueUrl: r.delayQueueUrl,
    deadLetterQueueUrl: r.deadLetterQueueUrl,
    region: 'us-east-1',
  });
  poller = new SqsPoller({ region: 'us-east-1' });
});

const message: StepMessage = { rotationId: 'r-1', inventory: 'shop', item: 'web', step: 'issue', attempt: 0 };

async function drain(url: string, waitSeconds = 1) {
  const got = await poller.receiveWithAttributes(url, { waitSeconds });
  if (got.length)
    await poller.delete(
      url,
      got.map((m) => m.receiptHandle),
    );
  return got;
}

describe('SQS step queue on moto', () => {
  it('delivers a step once per dedup id, in its item group', async () => {
    // Act
    await queue.enqueue(message);
    await queue.enqueue(message); // a retried enqueue within the 5-minute window
    await queue.enqueue({ ...message, step: 'test' });

    // Assess
    const got = await drain(r.stepQueueUrl);
    expect(got.map((m) => JSON.parse(m.body).step)).toEqual(['issue', 'test']);
    expect(got.every((m) => m.attributes.MessageGroupId === 'shop/web')).toBe(true);
    expect(got[0]!.attributes.MessageDeduplicationId).toBe(deduplicationIdOf(message));
  });

  it('a waiting step sits in the delay queue until due, then relay puts it into the FIFO queue', async () => {
    // Act
    await queue.enqueue({ ...message, step: 'restart', attempt: 4 }, { delaySeconds: 2 });
    const early = await drain(r.delayQueueUrl, 0);
    await new Promise((res) => setTimeout(res, 2_500));
    const due = await drain(r.delayQueueUrl);
    const outcome = await queue.relay(JSON.parse(due[0]!.body) as DelayedStep);

    // Assess
    expect(early).toEqual([]);
    expect(due).toHaveLength(1);
    expect(outcome).toBe('ready');
    expect((await drain(r.stepQueueUrl)).map((m) => JSON.parse(m.body))).toEqual([{ ...message, step: 'restart', attempt: 4 }]);
  });

  it('dead letters reach the FIFO DLQ with their reason', async () => {
    // Act
    await queue.deadLetter('{"broken"', 'malformed step message: not JSON', { sourceMessageId: 'm-1', group: 'shop/web', receiveCount: 1 });

    // Assess
    const [dead] = await drain(r.deadLetterQueueUrl);
    expect(dead?.body).toBe('{"broken"');
    expect(dead?.messageAttributes).toMatchObject({ reason: 'malformed step message: not JSON', sourceMessageId: 'm-1' });
  });
});

describe('EventBridge bus on moto', () => {
  it('publishes 23 events in batches; the restart rule delivers SecretSynced and RestartRequested, nothing else', async () => {
    // Prepare
    const bus = new EventBridgeBus({ eventBusName: r.eventBusName, region: 'us-east-1' });
    const at = new Date().toISOString();
    const events = [
      ...Array.from({ length: 20 }, (_, i) =>
        makeEvent(EventType.RotationStepCompleted, { inventory: 'shop', item: `i${i}`, at }, { step: 'issue', status: 'completed' }),
      ),
      makeEvent(
        EventType.SecretSynced,
        { inventory: 'shop', item: 'web', at },
        { cluster: 'dc1', namespace: 'shop', secret: 'web-tls', versionId: 'v2', change: 'updated' },
      ),
      makeEvent(
        EventType.RestartRequested,
        { inventory: 'shop', item: 'web', at },
        { cluster: 'dc1', workloads: ['Deployment/shop/web'], policy: 'rolling' },
      ),
      makeEvent(EventType.ExpiringSoon, { inventory: 'shop', item: 'web', at }, { notAfter: at, serial: '01' }),
    ];

    // Act
    await bus.publish(events);

    // Assess
    const delivered: { source: string; 'detail-type': string; detail: Record<string, unknown> }[] = [];
    for (let i = 0; i < 5 && delivered.length < 2; i++)
      delivered.push(...(await drain(r.restartEventsQueueUrl)).map((m) => JSON.parse(m.body)));
    expect(delivered.map((e) => e['detail-type']).sort()).toEqual(['RestartRequested', 'SecretSynced']);
    expect(delivered.every((e) => e.source === 'rekey' && e.detail.inventory === 'shop' && e.detail.at === at)).toBe(true);
  });
});
