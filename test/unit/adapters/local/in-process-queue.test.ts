import { describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../../../shared/adapters/local/in-process-queue.js';
import type { StepMessage } from '../../../../shared/ports/step-queue.js';

/** Messages told apart by item (step names are typed: every message here is an `issue` step). */
const msg = (item: string, attempt = 0): StepMessage => ({ rotationId: 'r', inventory: 'i', item, step: 'issue', attempt });

describe('InProcessQueue', () => {
  it('runs messages in order of readiness, waiting for delayed ones with the injected sleep', async () => {
    // Prepare
    let now = 1000;
    const slept: number[] = [];
    const queue = new InProcessQueue(
      () => now,
      async (ms) => {
        slept.push(ms);
        now += ms;
      },
    );
    await queue.enqueue(msg('late'), { delaySeconds: 5 });
    await queue.enqueue(msg('first'));
    await queue.enqueue(msg('middle'), { delaySeconds: 2 });
    const seen: string[] = [];
    // Act
    await queue.drain(async (m) => {
      seen.push(m.item);
      if (m.item === 'first') await queue.enqueue(msg('follow-up'));
    });
    // Assess
    expect(seen).toEqual(['first', 'follow-up', 'middle', 'late']);
    expect(slept).toEqual([2000, 3000]);
    expect(queue.size).toBe(0);
  });

  it('a handler that throws stops the drain and leaves the rest queued', async () => {
    // Prepare
    const queue = new InProcessQueue(
      () => 0,
      async () => {},
    );
    await queue.enqueue(msg('a'));
    await queue.enqueue(msg('b'));
    // Act
    const error = await queue
      .drain(async (m) => {
        if (m.item === 'a') throw new Error('boom');
      })
      .catch((e: unknown) => e);
    // Assess
    expect((error as Error).message).toBe('boom');
    expect(queue.size).toBe(1);
  });

  it('an aborted signal stops the drain', async () => {
    // Prepare
    const queue = new InProcessQueue(
      () => 0,
      async () => {},
    );
    await queue.enqueue(msg('a'));
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    // Act + Assess
    await expect(queue.drain(async () => {}, controller.signal)).rejects.toThrow('deadline');
    expect(queue.size).toBe(1);
  });
});
