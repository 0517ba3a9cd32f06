import { describe, expect, it } from 'vitest';
import { NextCallSharing } from '../../../../shared/adapters/kube/next-call-sharing.js';

/** A call whose answer the test gives, counting how often it was started. */
function controlledCall() {
  const pending: Array<{ resolve: (v: number) => void; reject: (e: unknown) => void }> = [];
  let started = 0;
  return {
    call: () =>
      new Promise<number>((resolve, reject) => {
        started++;
        pending.push({ resolve, reject });
      }),
    started: () => started,
    answer: (v: number) => pending.shift()!.resolve(v),
    fail: (e: unknown) => pending.shift()!.reject(e),
  };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('NextCallSharing', () => {
  it('callers that ask together share one call', async () => {
    // Prepare
    const sharing = new NextCallSharing<number>();
    const c = controlledCall();
    // Act
    const answers = Promise.all([1, 2, 3].map(() => sharing.run('Deployment/shop', c.call)));
    await tick();
    c.answer(7);
    // Assess
    expect(await answers).toEqual([7, 7, 7]);
    expect(c.started()).toBe(1);
  });

  it('a caller that asks while a call runs gets the next call, started after the running one ended', async () => {
    // Prepare
    const sharing = new NextCallSharing<number>();
    const c = controlledCall();
    const first = sharing.run('k', c.call);
    await tick();
    // Act: two callers arrive while the first call runs
    const late = [sharing.run('k', c.call), sharing.run('k', c.call)];
    await tick();
    const startedWhileRunning = c.started();
    c.answer(1);
    await tick();
    c.answer(2);
    // Assess
    expect(startedWhileRunning).toBe(1);
    expect(await first).toBe(1);
    expect(await Promise.all(late)).toEqual([2, 2]);
    expect(c.started()).toBe(2);
  });

  it('a failed call fails its callers only; other keys are not shared; the next call of the key runs again', async () => {
    // Prepare
    const sharing = new NextCallSharing<number>();
    const c = controlledCall();
    const other = controlledCall();
    // Act
    const failing = [sharing.run('k', c.call), sharing.run('k', c.call)].map((p) => p.catch((e: unknown) => e));
    const elsewhere = sharing.run('j', other.call);
    await tick();
    c.fail(new Error('list refused'));
    other.answer(9);
    const errors = await Promise.all(failing);
    const again = sharing.run('k', c.call);
    await tick();
    c.answer(3);
    // Assess
    expect(errors.map((e) => (e as Error).message)).toEqual(['list refused', 'list refused']);
    expect(await elsewhere).toBe(9);
    expect(await again).toBe(3);
    expect(c.started()).toBe(2);
  });
});
