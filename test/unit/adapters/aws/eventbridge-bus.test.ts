import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { batchesOf, EventBridgeBus } from '../../../../shared/adapters/aws/eventbridge-bus.js';
import { TransientError } from '../../../../shared/domain/errors.js';
import { EventType, makeEvent, type RekeyEvent } from '../../../../shared/domain/events/types.js';

expect.extend(allCustomMatcher);

const eb = mockClient(EventBridgeClient);
let bus: EventBridgeBus;

const event = (i: number, extra: Record<string, unknown> = {}): RekeyEvent =>
  makeEvent(
    EventType.SecretSynced,
    { inventory: 'shop', item: `web-${i}`, rotationId: 'r-1', at: '2030-01-01T00:00:00.000Z' },
    { cluster: 'dc1', namespace: 'shop', secret: 'web-tls', versionId: 'v1', change: 'updated', ...extra },
  );

beforeEach(() => {
  eb.reset();
  bus = new EventBridgeBus({ eventBusName: 'rekey-dev', client: new EventBridgeClient({ region: 'us-east-1' }), backoffMs: () => 0 });
});

describe('EventBridgeBus', () => {
  it('sends source rekey, detail-type = event type, detail = JSON detail, on the configured bus', async () => {
    // Prepare
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });

    // Act
    await bus.publish([event(1)]);

    // Assess
    expect(eb).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [
        {
          Source: 'rekey',
          DetailType: 'SecretSynced',
          EventBusName: 'rekey-dev',
          Detail: JSON.stringify(event(1).detail),
          Time: new Date('2030-01-01T00:00:00.000Z'),
        },
      ],
    });
  });

  it('sends 23 events as batches of 10, 10 and 3, in order', async () => {
    // Prepare
    eb.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map((_, i) => ({ EventId: `e${i}` })),
    }));

    // Act
    await bus.publish(Array.from({ length: 23 }, (_, i) => event(i)));

    // Assess
    const sizes = eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!.length);
    expect(sizes).toEqual([10, 10, 3]);
    const items = eb.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries!.map((e) => JSON.parse(e.Detail!).item));
    expect(items).toEqual(Array.from({ length: 23 }, (_, i) => `web-${i}`));
  });

  it('also splits on the 256 KiB request limit', () => {
    // Prepare
    const entries = Array.from({ length: 4 }, (_, i) => ({
      Source: 'rekey',
      DetailType: 'X',
      Detail: JSON.stringify({ i, pad: 'x'.repeat(100_000) }),
    }));

    // Act
    const batches = batchesOf(entries);

    // Assess
    expect(batches.map((b) => b.length)).toEqual([2, 2]);
  });

  it('re-sends only the entries PutEvents reported as failed, until they are accepted', async () => {
    // Prepare
    eb.on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [{ EventId: 'a' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow' }, { ErrorCode: 'InternalFailure' }],
      })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ EventId: 'b' }, { ErrorCode: 'InternalFailure' }] })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'c' }] });

    // Act
    await bus.publish([event(0), event(1), event(2)]);

    // Assess
    const sent = eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!.map((e) => JSON.parse(e.Detail!).item));
    expect(sent).toEqual([['web-0', 'web-1', 'web-2'], ['web-1', 'web-2'], ['web-2']]);
  });

  it('gives up with a TransientError naming the error codes when entries keep failing', async () => {
    // Prepare
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] });
    const stubborn = new EventBridgeBus({
      client: new EventBridgeClient({ region: 'us-east-1' }),
      failedEntryRetries: 2,
      backoffMs: () => 0,
    });

    // Act
    const error = await stubborn.publish([event(0)]).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/1 of 1 event\(s\) not accepted after 3 attempt\(s\): ThrottlingException/);
    expect(eb).toHaveReceivedCommandTimes(PutEventsCommand, 3);
  });

  it('refuses an event carrying a secret before sending anything', async () => {
    // Act
    const error = await bus.publish([event(0), event(1, { privateKey: 'x' })]).catch((e: unknown) => e);

    // Assess
    expect((error as Error).message).toMatch(/forbidden field detail.privateKey/);
    expect(eb).toHaveReceivedCommandTimes(PutEventsCommand, 0);
  });

  it('sends nothing for no events', async () => {
    await bus.publish([]);
    expect(eb).toHaveReceivedCommandTimes(PutEventsCommand, 0);
  });
});
