/**
 * EventBridge behind the `send(command)` of the client the real EventBridgeBus uses: PutEvents (at most 10
 * entries) under a regional rate quota; accepted entries whose detail-type a rule matches are handed to the
 * rule's target (the restart function) asynchronously, as EventBridge invokes Lambda.
 */
import { TokenBucket } from './token-bucket.js';
import { SdkError } from './secrets-manager.js';
import type { VirtualTime } from './virtual-time.js';

interface Command {
  readonly input: Record<string, unknown>;
}

interface Entry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly Time?: Date;
}

/** What a Lambda target receives from an EventBridge rule. */
export interface BridgeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: unknown;
}

export interface EventBridgeOptions {
  /** PutEvents requests per second (a regional quota: 10,000 in the largest regions, lower elsewhere). */
  readonly putEventsPerSecond?: number;
  readonly callMs?: number;
}

export class EmulatedEventBridge {
  readonly calls = new Map<string, number>();
  readonly entriesByType = new Map<string, number>();
  throttles = 0;
  private readonly bucket: TokenBucket;
  private nextId = 0;
  /** Called for every accepted entry (the simulation follows RotationCompleted with it). */
  onEntry: (detailType: string) => void = () => undefined;
  /** Rule targets: detail-type -> handler (called without waiting, as an asynchronous invocation). */
  readonly rules = new Map<string, (event: BridgeEvent) => void>();

  constructor(
    private readonly time: VirtualTime,
    private readonly options: EventBridgeOptions = {},
  ) {
    const rate = options.putEventsPerSecond ?? 2_400;
    this.bucket = new TokenBucket(rate, Math.max(1, rate), () => time.ms);
  }

  async send(command: Command): Promise<unknown> {
    const op = command.constructor.name;
    await this.time.sleep(this.options.callMs ?? 15);
    if (op !== 'PutEventsCommand') throw new SdkError('InvalidAction', `the emulator does not implement ${op}`);
    // Throttled requests are retried as the SDK does (5 attempts, full-jitter backoff); each refusal counts.
    for (let attempt = 1; !this.bucket.tryTake(); attempt++) {
      this.throttles++;
      if (attempt >= 5) throw new SdkError('ThrottlingException', 'Rate exceeded');
      await this.time.sleep(Math.random() * Math.min(20_000, 100 * 2 ** attempt) + (this.options.callMs ?? 15));
    }
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    const entries = (command.input.Entries as Entry[] | undefined) ?? [];
    const results = entries.map((e) => {
      const id = `ev-${this.nextId++}`;
      const type = e.DetailType ?? '';
      this.entriesByType.set(type, (this.entriesByType.get(type) ?? 0) + 1);
      this.onEntry(type);
      const target = this.rules.get(type);
      if (target) {
        const event: BridgeEvent = {
          version: '0',
          id,
          'detail-type': type,
          source: e.Source ?? '',
          account: '000000000000',
          time: (e.Time ?? this.time.now()).toISOString(),
          region: 'sim-1',
          resources: [],
          detail: JSON.parse(e.Detail ?? '{}') as unknown,
        };
        target(event);
      }
      return { EventId: id };
    });
    return { FailedEntryCount: 0, Entries: results };
  }
}
