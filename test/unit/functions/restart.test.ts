import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { restartHandler, RestartEventOutcome } from '../../../functions/restart.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { RestartState, RotationStatus, type RotationRecord } from '../../../shared/domain/rotation/record.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { RESTART_AT, restartRequestedEvent, rotationAtRestart } from './restart-fixture.js';
import { FakeWorkloads } from '../app/restart/fakes.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { SMALL_INVENTORY, testRuntime } from './fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-fn-restart-');
});
afterEach(() => removeTempDir(dir));

const AT = RESTART_AT;

const rotation = rotationAtRestart;
const restartRequested = (detail: Record<string, unknown> = {}) => restartRequestedEvent({ budget: 4, ...detail });

describe('restart function', () => {
  it('restarts the requested workloads, records the cluster as completed in the journal and emits RestartCompleted', async () => {
    // Prepare
    const log: string[] = [];
    const workloads = new FakeWorkloads('dc1', log);
    workloads.existing.add('Deployment/shop/web');
    const clusters = new Map<string, Cluster>([
      [
        'dc1',
        {
          name: 'dc1',
          secrets: { listSecrets: async () => [], getSecret: async () => undefined, writeSecret: async () => 'unchanged' },
          workloads,
        },
      ],
    ]);
    const rt = testRuntime(dir, { clusters });
    await rt.journal.create(rotation());

    // Act
    const outcome = await restartHandler(() => rt)(restartRequested(), { awsRequestId: 'req', getRemainingTimeInMillis: () => 60_000 });

    // Assess
    expect(outcome).toBe(RestartEventOutcome.Handled);
    expect(workloads.calls).toEqual(['restart Deployment/shop/web']);
    expect((await rt.journal.get('rot-1'))?.restarts.dc1?.state).toBe(RestartState.Completed);
    const completed = rt.bus.published.filter((e) => e.type === EventType.RestartCompleted);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.detail).toMatchObject({ cluster: 'dc1', rotationId: 'rot-1', restarted: ['Deployment/shop/web'] });
  });

  it.each([
    ['from another source', { source: 'aws.s3' }, /source: /],
    ['of an unknown type', { 'detail-type': 'SecretStolen' }, /detail-type: /],
    ['without a time', { detail: { inventory: 'shop', item: 'web' } }, /detail\.at: /],
  ])('sends an event %s to the events DLQ with the reason, and does not throw (no retries)', async (_, change, reason) => {
    // Prepare
    const rt = testRuntime(dir);

    // Act
    const outcome = await restartHandler(() => rt)({ ...restartRequested(), ...change });

    // Assess
    expect(outcome).toBe(RestartEventOutcome.Rejected);
    expect(rt.queue.deadLetters).toHaveLength(1);
    expect(rt.queue.deadLetters[0]!.queueUrl).toBe(rt.eventsDeadLetterQueueUrl);
    expect(rt.queue.deadLetters[0]!.reason).toMatch(/^malformed rekey event: /);
    expect(rt.queue.deadLetters[0]!.reason).toMatch(reason);
    expect(JSON.parse(rt.queue.deadLetters[0]!.body)).toMatchObject({ id: 'evt-1' });
  });

  it('ignores events of another inventory on a shared bus', async () => {
    // Prepare
    const rt = testRuntime(dir);

    // Act
    const outcome = await restartHandler(() => rt)(restartRequested({ inventory: 'other' }));

    // Assess
    expect(outcome).toBe(RestartEventOutcome.OtherInventory);
    expect(rt.bus.published).toEqual([]);
    expect(rt.queue.deadLetters).toEqual([]);
  });

  it('records a cluster this function cannot reach as a failed restart (the rotation step reads it)', async () => {
    // Prepare
    const rt = testRuntime(dir, { clusters: new Map() });
    await rt.journal.create(rotation());

    // Act
    await restartHandler(() => rt)(restartRequested());

    // Assess
    const record = await rt.journal.get('rot-1');
    expect(record?.restarts.dc1).toMatchObject({ state: RestartState.Failed, message: 'cluster dc1 is not connected from this runtime' });
    expect(rt.bus.published.map((e) => e.type)).toEqual([EventType.RestartFailed]);
  });

  describe('the last outcome of a leaf rotation', () => {
    /** dc1 with the consumer, its Secret holding `version` (what verify reads back). */
    function clusterHolding(version: string): { clusters: Map<string, Cluster>; workloads: FakeWorkloads } {
      const workloads = new FakeWorkloads('dc1', []);
      workloads.existing.add('Deployment/shop/web');
      const secret = {
        namespace: 'shop',
        name: 'web-tls',
        type: 'kubernetes.io/tls',
        data: {},
        labels: {},
        annotations: { 'rekey/version': version },
      };
      const clusters = new Map<string, Cluster>([
        [
          'dc1',
          {
            name: 'dc1',
            secrets: { listSecrets: async () => [], getSecret: async () => secret, writeSecret: async () => 'unchanged' },
            workloads,
          },
        ],
      ]);
      return { clusters, workloads };
    }
    const inventory = loadInventory(
      SMALL_INVENTORY.replace(
        'secret: {name: web-tls, namespace: shop}',
        'secret: {name: web-tls, namespace: shop}\n    consumers: [Deployment/web]',
      ),
    );
    const recorded = { ...rotation(), history: [{ step: 'sync', status: 'completed', at: AT, attempt: 0 }] } as RotationRecord;

    it('finishes the rotation in the same invocation: no queued step, RestartCompleted published with the completions', async () => {
      // Prepare
      const rt = testRuntime(dir, { inventory, clusters: clusterHolding('rot-1').clusters });
      await rt.journal.create(recorded);
      const publish = vi.spyOn(rt.bus, 'publish');

      // Act
      await restartHandler(() => rt)(restartRequested());

      // Assess
      const record = await rt.journal.get('rot-1');
      expect(record?.status).toBe(RotationStatus.Completed);
      expect(record?.history.map((h) => `${h.step}:${h.status}`)).toEqual(['sync:completed', 'restart:completed', 'verify:completed']);
      expect(rt.queue.take()).toEqual([]);
      expect(publish).toHaveBeenCalledTimes(1);
      expect(rt.bus.published.map((e) => e.type)).toEqual([
        EventType.RestartCompleted,
        EventType.RotationStepCompleted,
        EventType.RotationStepCompleted,
        EventType.RotationCompleted,
      ]);
    });

    it('while another worker holds the rotation, records the outcome and queues the step for it', async () => {
      // Prepare
      const rt = testRuntime(dir, { inventory, clusters: clusterHolding('rot-1').clusters });
      await rt.journal.create({ ...recorded, lease: { owner: 'other', expiresAt: new Date(Date.now() + 60_000).toISOString() } });

      // Act
      await restartHandler(() => rt)(restartRequested());

      // Assess
      const record = await rt.journal.get('rot-1');
      expect(record?.status).toBe(RotationStatus.Running);
      expect(record?.restarts.dc1?.state).toBe(RestartState.Completed);
      expect(rt.queue.take()).toEqual([{ rotationId: 'rot-1', inventory: 'shop', item: 'web', step: 'restart', attempt: 0 }]);
      expect(rt.bus.published.map((e) => e.type)).toEqual([EventType.RestartCompleted]);
    });

    it('when the run fails (verify sees an old version), publishes RestartCompleted and leaves the step to the step function', async () => {
      // Prepare
      const rt = testRuntime(dir, { inventory, clusters: clusterHolding('an-older-version').clusters });
      await rt.journal.create(recorded);

      // Act
      await restartHandler(() => rt)(restartRequested());

      // Assess
      const record = await rt.journal.get('rot-1');
      expect(record?.status).toBe(RotationStatus.Running);
      expect(record?.step).toBe('restart');
      expect(rt.queue.take()).toEqual([{ rotationId: 'rot-1', inventory: 'shop', item: 'web', step: 'restart', attempt: 0 }]);
      expect(rt.bus.published.map((e) => e.type)).toEqual([EventType.RestartCompleted]);
    });
  });
});
