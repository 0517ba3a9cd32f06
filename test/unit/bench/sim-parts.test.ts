import { describe, expect, it } from 'vitest';
import { FifoQueue } from '../../bench/sim/fifo-queue.js';
import { EmulatedSecretsManager } from '../../bench/sim/secrets-manager.js';
import { TokenBucket } from '../../bench/sim/token-bucket.js';
import { VirtualTime } from '../../bench/sim/virtual-time.js';

describe('virtual clock', () => {
  it('fires timers in time order (equal times in the order set) and jumps the clock to each', async () => {
    const time = new VirtualTime(0);
    const seen: string[] = [];
    time.schedule(30, () => seen.push(`b@${time.ms}`));
    time.schedule(10, () => seen.push(`a@${time.ms}`));
    time.schedule(30, () => seen.push(`c@${time.ms}`));
    await time.run();
    expect(seen).toEqual(['a@10', 'b@30', 'c@30']);
    expect(time.ms).toBe(30);
  });

  it('lets async work settle between timers: a chain of sleeps takes their sum in virtual time', async () => {
    const time = new VirtualTime(0);
    const order: number[] = [];
    const worker = async (id: number, ms: number) => {
      for (let i = 0; i < 3; i++) await time.sleep(ms);
      order.push(id);
    };
    void worker(1, 100);
    void worker(2, 40);
    await time.run();
    expect(order).toEqual([2, 1]);
    expect(time.ms).toBe(300);
  });

  it('routes the global setTimeout and clearTimeout through itself while installed', async () => {
    const time = new VirtualTime(0);
    const restore = time.install();
    const fired: string[] = [];
    try {
      setTimeout(() => fired.push('kept'), 5_000);
      const dropped = setTimeout(() => fired.push('cleared'), 1_000);
      clearTimeout(dropped);
      await time.run();
    } finally {
      restore();
    }
    expect(fired).toEqual(['kept']);
    expect(time.ms).toBe(5_000);
  });

  it('stops when done() holds or at the limit', async () => {
    const time = new VirtualTime(0);
    let n = 0;
    const tick = () => {
      n++;
      time.schedule(1_000, tick);
    };
    time.schedule(1_000, tick);
    await time.run({ done: () => n >= 3 });
    expect(n).toBe(3);
    await time.run({ limitMs: 10_500 });
    expect(n).toBe(13);
  });
});

describe('token bucket', () => {
  it('starts full, refuses when empty, refills at its rate up to the burst', () => {
    let now = 0;
    const bucket = new TokenBucket(50, 50, () => now);
    let taken = 0;
    while (bucket.tryTake()) taken++;
    expect(taken).toBe(50);
    now += 100; // 0.1 s: 5 tokens
    taken = 0;
    while (bucket.tryTake()) taken++;
    expect(taken).toBe(5);
    now += 60_000;
    expect(bucket.available()).toBe(50);
  });

  it('reserves in order: each wait is one more token interval', () => {
    const bucket = new TokenBucket(10, 1, () => 0);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 100, 200]);
  });
});

describe('FIFO queue', () => {
  const clockOf = (time: VirtualTime) => ({ nowMs: () => time.ms, schedule: (ms: number, fire: () => void) => time.schedule(ms, fire) });

  it('delivers one message per group at a time, in order; the next after a delete', () => {
    const time = new VirtualTime(0);
    const q = new FifoQueue<string>(clockOf(time), 30_000);
    q.send('g1', 'd1', 'a1');
    q.send('g1', 'd2', 'a2');
    q.send('g2', 'd3', 'b1');
    const first = q.receive(10);
    expect(first.map((m) => m.body)).toEqual(['a1', 'b1']);
    expect(q.receive(10)).toEqual([]); // both groups blocked while in flight
    q.delete(first[0]!.receipt!);
    expect(q.receive(10).map((m) => m.body)).toEqual(['a2']);
  });

  it('drops a duplicate deduplication id within five minutes, accepts it after', () => {
    const time = new VirtualTime(0);
    const q = new FifoQueue<string>(clockOf(time), 30_000);
    expect(q.send('g', 'same', 'x')).toBe(true);
    expect(q.send('g', 'same', 'x')).toBe(false);
    expect(q.depth).toBe(1);
    time.schedule(5 * 60_000, () => expect(q.send('g', 'same', 'x')).toBe(true));
    return time.run().then(() => expect(q.depth).toBe(2));
  });

  it('makes a message visible again when its visibility ends (the group unblocks, the receive count grows)', async () => {
    const time = new VirtualTime(0);
    const q = new FifoQueue<string>(clockOf(time), 30_000);
    q.send('g', 'd', 'x');
    const [m] = q.receive(1);
    q.changeVisibility(m!.receipt!, 4);
    await time.run({ limitMs: 3_999 });
    expect(q.receive(1)).toEqual([]);
    await time.run({ limitMs: 1 });
    const again = q.receive(1);
    expect(again.map((x) => [x.body, x.receiveCount])).toEqual([['x', 2]]);
  });
});

describe('emulated Secrets Manager', () => {
  // The emulator dispatches on the command's class name, as the SDK's commands are named.
  class PutSecretValueCommand {
    constructor(readonly input: Record<string, unknown>) {}
  }
  class DescribeSecretCommand {
    constructor(readonly input: Record<string, unknown>) {}
  }

  it('moves AWSCURRENT with a put and leaves AWSPREVIOUS on the old version', async () => {
    const time = new VirtualTime(0);
    const sm = new EmulatedSecretsManager(time);
    sm.seed('s', 'v1', 'one');
    const done = (async () => {
      await sm.send(
        new PutSecretValueCommand({ SecretId: 's', ClientRequestToken: 'v2', SecretString: 'two', VersionStages: ['AWSCURRENT'] }),
      );
      return sm.send(new DescribeSecretCommand({ SecretId: 's' }));
    })();
    await time.run();
    expect(((await done) as { VersionIdsToStages: unknown }).VersionIdsToStages).toEqual({ v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] });
    expect(sm.writes).toBe(1);
  });

  it('throttles writes beyond 50 per second and retries them, counting every refusal', async () => {
    const time = new VirtualTime(0);
    const sm = new EmulatedSecretsManager(time, { maxAttempts: 1 });
    sm.seed('s', 'v0', 'zero');
    const results = Array.from({ length: 60 }, (_, i) =>
      sm
        .send(
          new PutSecretValueCommand({
            SecretId: 's',
            ClientRequestToken: `v${i + 1}`,
            SecretString: String(i),
            VersionStages: ['AWSPENDING'],
          }),
        )
        .then(
          () => 'ok',
          (e: unknown) => (e as Error).name,
        ),
    );
    await time.run();
    const outcomes = await Promise.all(results);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(50);
    expect(outcomes.filter((o) => o === 'ThrottlingException')).toHaveLength(10);
    expect(sm.throttles).toBe(10);
  });
});
