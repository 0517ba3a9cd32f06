import { describe, expect, it } from 'vitest';
import { nextOnDeleteStep, type OnDeletePod } from '../../../../shared/domain/restart/on-delete.js';

const pod = (name: string, over: Partial<OnDeletePod> = {}): OnDeletePod => ({
  name,
  versionsHash: 'old',
  ready: true,
  terminating: false,
  ...over,
});

describe('OnDelete restarts: one pod at a time, gated by readiness', () => {
  it('evicts the highest ordinal still on the old template first, then the next only after it is back and ready', () => {
    // Act + Assess
    expect(nextOnDeleteStep([pod('db-0'), pod('db-1'), pod('db-2')], 'new', 3)).toMatchObject({ action: 'evict', pod: 'db-2' });
    expect(nextOnDeleteStep([pod('db-0'), pod('db-1'), pod('db-2', { terminating: true })], 'new', 3)).toMatchObject({
      action: 'wait',
      message: expect.stringMatching(/db-2 to terminate/),
    });
    expect(nextOnDeleteStep([pod('db-0'), pod('db-1')], 'new', 3)).toMatchObject({
      action: 'wait',
      message: expect.stringMatching(/2 of 3 pods exist/),
    });
    expect(nextOnDeleteStep([pod('db-0'), pod('db-1'), pod('db-2', { versionsHash: 'new', ready: false })], 'new', 3)).toMatchObject({
      action: 'wait',
      message: expect.stringMatching(/db-2 to be ready/),
    });
    expect(nextOnDeleteStep([pod('db-0'), pod('db-1'), pod('db-2', { versionsHash: 'new' })], 'new', 3)).toMatchObject({
      action: 'evict',
      pod: 'db-1',
    });
    expect(nextOnDeleteStep([pod('db-10'), pod('db-9')], 'new', 2)).toMatchObject({ action: 'evict', pod: 'db-10' });
  });

  it('is done when every pod carries the new hash and is ready; pods never restarted by rekey count as old', () => {
    // Act + Assess
    expect(nextOnDeleteStep([pod('a', { versionsHash: 'new' }), pod('b', { versionsHash: 'new' })], 'new', 2)).toMatchObject({
      action: 'done',
    });
    const { versionsHash: _none, ...bare } = pod('agent-x');
    expect(nextOnDeleteStep([bare], 'new', 1)).toMatchObject({ action: 'evict', pod: 'agent-x' });
    expect(nextOnDeleteStep([], 'new', 0)).toMatchObject({ action: 'done' });
  });
});
