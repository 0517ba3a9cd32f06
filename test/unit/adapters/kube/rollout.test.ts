import { describe, expect, it } from 'vitest';
import { daemonSetRollout, deploymentRollout, podRollout, statefulSetRollout } from '../../../../shared/adapters/kube/rollout.js';

const deployment = (spec: object, status: object, generation = 2) => ({ metadata: { generation }, spec: { replicas: 3, ...spec }, status });

describe('deployment rollout judgement (kubectl rollout status)', () => {
  it.each([
    [
      'spec update not observed',
      deployment({}, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
      false,
      /spec update/,
    ],
    [
      'replicas not updated yet',
      deployment({}, { observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 3 }),
      false,
      /1 of 3 new replicas/,
    ],
    [
      'old replicas terminating',
      deployment({}, { observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }),
      false,
      /1 old replicas/,
    ],
    [
      'updated not yet available',
      deployment({}, { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2 }),
      false,
      /2 of 3 updated replicas are available/,
    ],
    ['complete', deployment({}, { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }), true, /3 of 3/],
    [
      'paused: held',
      deployment({ paused: true }, { observedGeneration: 2, replicas: 3, updatedReplicas: 0, availableReplicas: 3 }),
      false,
      /paused/,
    ],
    ['zero replicas', deployment({ replicas: 0 }, { observedGeneration: 2 }), true, /0 of 0/],
  ])('%s', (_label, d, done, message) => {
    // Act
    const j = deploymentRollout(d);
    // Assess
    expect(j.done).toBe(done);
    expect(j.failed).toBeUndefined();
    expect(j.message).toMatch(message);
  });

  it('fails when the progress deadline is exceeded', () => {
    // Prepare
    const d = deployment(
      {},
      {
        observedGeneration: 2,
        replicas: 3,
        updatedReplicas: 1,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      },
    );
    // Act
    const j = deploymentRollout(d);
    // Assess
    expect(j).toMatchObject({ done: false, failed: true });
  });
});

describe('statefulset rollout judgement', () => {
  const sts = (status: object, strategy: object = { type: 'RollingUpdate' }) => ({
    metadata: { generation: 5 },
    spec: { replicas: 3, updateStrategy: strategy },
    status,
  });
  it.each([
    ['not observed', sts({ observedGeneration: 4, readyReplicas: 3, currentRevision: 'a', updateRevision: 'a' }), false],
    ['pods not ready', sts({ observedGeneration: 5, readyReplicas: 2, currentRevision: 'a', updateRevision: 'b' }), false],
    [
      'revision rolling',
      sts({ observedGeneration: 5, readyReplicas: 3, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' }),
      false,
    ],
    ['complete', sts({ observedGeneration: 5, readyReplicas: 3, updatedReplicas: 3, currentRevision: 'b', updateRevision: 'b' }), true],
    [
      'partition reached',
      sts(
        { observedGeneration: 5, readyReplicas: 3, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' },
        { type: 'RollingUpdate', rollingUpdate: { partition: 2 } },
      ),
      true,
    ],
    [
      'partition not reached',
      sts(
        { observedGeneration: 5, readyReplicas: 3, updatedReplicas: 0, currentRevision: 'a', updateRevision: 'b' },
        { type: 'RollingUpdate', rollingUpdate: { partition: 2 } },
      ),
      false,
    ],
  ])('%s', (_label, s, done) => {
    // Act + Assess
    expect(statefulSetRollout(s).done).toBe(done);
  });

  it('fails for OnDelete: nothing would ever roll', () => {
    // Act
    const j = statefulSetRollout(sts({ observedGeneration: 5 }, { type: 'OnDelete' }));
    // Assess
    expect(j).toMatchObject({ done: false, failed: true });
    expect(j.message).toMatch(/OnDelete/);
  });
});

describe('daemonset rollout judgement', () => {
  const ds = (status: object, generation = 3) => ({
    metadata: { generation },
    spec: { updateStrategy: { type: 'RollingUpdate' } },
    status,
  });
  it.each([
    ['not observed', ds({ observedGeneration: 2, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 }), false],
    ['updating', ds({ observedGeneration: 3, desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberAvailable: 2 }), false],
    ['not available', ds({ observedGeneration: 3, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 1 }), false],
    ['complete', ds({ observedGeneration: 3, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 }), true],
  ])('%s', (_label, d, done) => {
    // Act + Assess
    expect(daemonSetRollout(d).done).toBe(done);
  });
});

describe('evicted pod judgement', () => {
  it.each([
    ['gone', undefined, true],
    [
      'terminating',
      { metadata: { deletionTimestamp: new Date() }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } },
      false,
    ],
    ['replaced and ready', { metadata: {}, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, true],
    ['replaced, not ready', { metadata: {}, status: { phase: 'Pending' } }, false],
  ])('%s', (_label, pod, done) => {
    // Act + Assess
    expect(podRollout(pod).done).toBe(done);
  });
});
