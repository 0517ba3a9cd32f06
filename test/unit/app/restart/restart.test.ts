import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findUnlistedConsumers, handleRestartEvent, planRotationRestarts } from '../../../../shared/app/restart/index.js';
import { pauseOwner, resumeOwner } from '../../../../shared/app/pause/index.js';
import { EventType, makeEvent, type RekeyEvent } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Credential } from '../../../../shared/domain/inventory/model.js';
import { versionsHash } from '../../../../shared/domain/restart/versions-hash.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { harness, requestRestarts, rotationAtRestart } from './fakes.js';

const inventory = (restart: string, clusters = '[{name: dc1, context: dc1}, {name: dc2, context: dc2}]') =>
  loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: apic}
clusters: ${clusters}
authorities: [{name: ca, commonName: ca}]
certificates:
  - name: server
    issuer: ca
    usage: server
    commonName: server
    secret: {name: server-tls, namespace: apic}
    consumers: [Deployment/apim, StatefulSet/postgres, {selector: app=portal}]
    restart: ${restart}
  - name: client
    issuer: ca
    usage: client
    commonName: client
    secret: {name: client-tls, namespace: apic}
    consumers: [Deployment/hub]
    restart: ${restart}
credentials:
  - name: db-password
    type: password
    secret: {name: db-password, namespace: apic}
    pause:
      object: {apiVersion: kubedb.com/v1, kind: Postgres, namespace: db, name: pg}
      patch: {metadata: {annotations: {rekey/paused: "true"}}}
      resume: {metadata: {annotations: {rekey/paused: null}}}
`);

const types = (events: readonly RekeyEvent[]) => events.map((e) => `${e.type}${e.detail.cluster ? ` ${String(e.detail.cluster)}` : ''}`);
const WORKLOADS = [
  'Deployment/apic/apim',
  'StatefulSet/apic/postgres',
  'Deployment/apic/portal-www',
  'Deployment/apic/other',
  'Deployment/apic/hub',
];

describe('restarts of a rotation (requestRestarts -> RestartRequested -> worker -> journal)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => removeTempDir(dir));

  function setup(restart: string) {
    const inv = inventory(restart);
    const h = harness(inv, dir, { versions: { 'rekey/apic/server': 'v2' } });
    for (const w of h.workloads.values()) {
      for (const id of WORKLOADS) w.existing.add(id);
      w.selectors.set('apic/app=portal', [{ kind: 'Deployment', namespace: 'apic', name: 'portal-www' }]);
    }
    return { inv, h };
  }

  it('together: restarts exactly the listed consumers in both clusters, records completion, emits the events', async () => {
    // Prepare
    const { inv, h } = setup('{policy: together, within: 5m}');
    const record = await rotationAtRestart(h, inv, 'server');
    // Act
    await requestRestarts(h.deps, inv, record);
    // Assess
    const final = (await h.journal.get(record.id))!;
    expect(final.restarts.dc1).toMatchObject({
      state: 'completed',
      workloads: ['Deployment/apic/apim', 'StatefulSet/apic/postgres', 'Deployment/apic/portal-www'],
    });
    expect(final.restarts.dc2?.state).toBe('completed');
    expect(final.restartDeadline).toBe(new Date(Date.parse(record.history[0]!.at) + 300_000).toISOString());
    expect(final.revision).toBe(record.revision + 3); // requested, dc1 done, dc2 done: one revision each
    for (const w of h.workloads.values()) {
      expect([...w.hashes.keys()].sort()).toEqual(['Deployment/apic/apim', 'Deployment/apic/portal-www', 'StatefulSet/apic/postgres']);
      expect(new Set(w.hashes.values())).toEqual(new Set([versionsHash({ 'rekey/apic/server': 'v2' })]));
    }
    const published = types(h.bus.published);
    expect(published.slice(0, 2)).toEqual(['RestartRequested dc1', 'RestartRequested dc2']);
    expect(published.slice(2).sort()).toEqual(['RestartCompleted dc1', 'RestartCompleted dc2']);
    const requested = h.bus.published[0]!.detail;
    expect(requested).toMatchObject({
      rotationId: record.id,
      inventory: 'apic',
      item: 'server',
      cluster: 'dc1',
      policy: 'together',
      deadline: final.restartDeadline,
    });
    expect(requested.workloads).toEqual(['Deployment/apic/apim', 'StatefulSet/apic/postgres', 'Deployment/apic/portal-www']);
  });

  it('together/within: a rollout held back in dc2 fails dc2 by the deadline, dc1 completes, nothing is lost', async () => {
    // Prepare
    const { inv, h } = setup('{policy: together, within: 2s}');
    h.workloads.get('dc2')!.held.add('Deployment/apic/apim');
    const record = await rotationAtRestart(h, inv, 'server');
    const started = Date.now();
    // Act
    await requestRestarts(h.deps, inv, record);
    // Assess
    const elapsed = Date.now() - started;
    const final = (await h.journal.get(record.id))!;
    expect(final.restarts.dc1?.state).toBe('completed');
    expect(final.restarts.dc2?.state).toBe('failed');
    expect(final.restarts.dc2?.message).toMatch(/Deployment\/apic\/apim: not done by .*held: the deployment is paused/);
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(10_000);
    const failed = h.bus.published.find((e) => e.type === EventType.RestartFailed)!;
    expect(failed.detail).toMatchObject({ cluster: 'dc2', failed: ['Deployment/apic/apim'], rotationId: record.id });
    // the other workloads of dc2 did restart and roll out
    expect(failed.detail.restarted).toEqual(['StatefulSet/apic/postgres', 'Deployment/apic/portal-www']);
  });

  it('a workload whose turn in the window comes after the deadline is not started, and is reported', async () => {
    // Prepare
    const { inv, h } = setup('{policy: together, within: 1s}');
    const dc1 = h.workloads.get('dc1')!;
    dc1.held.add('Deployment/apic/apim');
    const record = await rotationAtRestart(h, inv, 'server');
    const planned = (await planRotationRestarts(h.deps, inv, record))!;
    const request = planned.events.find((e) => e.detail.cluster === 'dc1')!;
    // Act: one rollout at a time, the first one held past the deadline
    await handleRestartEvent(h.deps, inv, { ...request, detail: { ...request.detail, budget: 1 } } as RekeyEvent);
    // Assess
    const failed = h.bus.published.find((e) => e.type === EventType.RestartFailed)!;
    expect(failed.detail.failed).toEqual(['Deployment/apic/apim', 'StatefulSet/apic/postgres', 'Deployment/apic/portal-www']);
    expect(failed.detail.reason).toMatch(/StatefulSet\/apic\/postgres: not done by .*: not started/);
    expect(dc1.calls).toEqual(['restart Deployment/apic/apim']);
  });

  it('rolling: dc2 starts only once every rollout of dc1 is done', async () => {
    // Prepare
    const { inv, h } = setup('rolling');
    for (const w of h.workloads.values()) w.pollsToRollOut = 3;
    const record = await rotationAtRestart(h, inv, 'server');
    // Act
    await requestRestarts(h.deps, inv, record);
    // Assess
    const lastDc1 = Math.max(...h.log.map((l, i) => (l.startsWith('dc1') ? i : -1)));
    const firstDc2 = h.log.findIndex((l) => l.startsWith('dc2'));
    expect(firstDc2).toBeGreaterThan(lastDc1);
    const final = (await h.journal.get(record.id))!;
    expect([final.restarts.dc1?.state, final.restarts.dc2?.state]).toEqual(['completed', 'completed']);
    expect(types(h.bus.published)).toEqual([
      'RestartRequested dc1',
      'RestartCompleted dc1',
      'RestartRequested dc2',
      'RestartCompleted dc2',
    ]);
  });

  it('rolling stops at a failure: the next cluster is skipped, not restarted', async () => {
    // Prepare
    const { inv, h } = setup('{policy: rolling, within: 1s}');
    h.workloads.get('dc1')!.held.add('StatefulSet/apic/postgres');
    const record = await rotationAtRestart(h, inv, 'server');
    // Act
    await requestRestarts(h.deps, inv, record);
    // Assess
    const final = (await h.journal.get(record.id))!;
    expect(final.restarts.dc1?.state).toBe('failed');
    expect(final.restarts.dc2).toMatchObject({ state: 'skipped', message: expect.stringMatching(/restart failed in dc1/) });
    expect(h.workloads.get('dc2')!.calls).toEqual([]);
  });

  it('a listed workload that does not exist is reported, not fatal (some pods exist only in some deployments)', async () => {
    // Prepare
    const { inv, h } = setup('together');
    h.workloads.get('dc1')!.existing.delete('StatefulSet/apic/postgres');
    const record = await rotationAtRestart(h, inv, 'server');
    // Act
    await requestRestarts(h.deps, inv, record);
    // Assess
    const final = (await h.journal.get(record.id))!;
    expect(final.restarts.dc1).toMatchObject({
      state: 'completed',
      message: expect.stringMatching(/not found: StatefulSet\/apic\/postgres/),
    });
    const done = h.bus.published.find((e) => e.type === EventType.RestartCompleted && e.detail.cluster === 'dc1')!;
    expect(done.detail.missing).toEqual(['StatefulSet/apic/postgres']);
  });

  it('a bare pod refused by its PodDisruptionBudget is retried, never forced', async () => {
    // Prepare
    const inv = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: apic}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: ca, commonName: ca}]
certificates:
  - {name: server, issuer: ca, usage: server, commonName: s, secret: {name: s, namespace: apic}, consumers: [Pod/solo, Pod/stuck], restart: {policy: together, within: 2s}}
`);
    const h = harness(inv, dir, { versions: { 'rekey/apic/server': 'v2' } });
    const w = h.workloads.get('dc1')!;
    w.existing.add('Pod/apic/solo');
    w.existing.add('Pod/apic/stuck');
    w.pdbRefusals.set('Pod/apic/solo', 2);
    w.pdbRefusals.set('Pod/apic/stuck', 1_000);
    const record = await rotationAtRestart(h, inv, 'server');
    // Act
    await requestRestarts(h.deps, inv, record);
    // Assess
    const final = (await h.journal.get(record.id))!;
    expect(final.restarts.dc1?.state).toBe('failed');
    expect(final.restarts.dc1?.message).toMatch(/Pod\/apic\/stuck: not done by .*PodDisruptionBudget/);
    expect(w.calls.filter((c) => c === 'restart Pod/apic/solo')).toHaveLength(3);
    expect(w.hashes.has('Pod/apic/stuck')).toBe(false);
  });

  it.each([
    // consumers per cluster, the request's budget, most mid-rollout at once in one cluster
    [6, undefined, 4], // at least 4
    [20, undefined, 5], // a quarter
    [20, 2, 2], // the request's own budget
  ])('%i consumers, budget %s: at most %i of a cluster mid-rollout at once, the next starting as one ends', async (n, budget, most) => {
    // Prepare
    const names = Array.from({ length: n }, (_, i) => `Deployment/w${i}`);
    const inv = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: apic}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities: [{name: ca, commonName: ca}]
certificates:
  - {name: server, issuer: ca, usage: server, commonName: s, secret: {name: s, namespace: apic}, consumers: [${names.join(', ')}], restart: together}
`);
    const h = harness(inv, dir, { versions: { 'rekey/apic/server': 'v2' } });
    for (const w of h.workloads.values()) {
      for (let i = 0; i < n; i++) w.existing.add(`Deployment/apic/w${i}`);
      w.pollsToRollOut = 3;
    }
    const record = await rotationAtRestart(h, inv, 'server');
    const planned = (await planRotationRestarts(h.deps, inv, record))!;
    const events = planned.events.map((e) => (budget === undefined ? e : ({ ...e, detail: { ...e.detail, budget } } as RekeyEvent)));
    // Act
    await Promise.all(events.map((e) => handleRestartEvent(h.deps, inv, e)));
    // Assess
    for (const w of h.workloads.values()) {
      expect(w.maxInFlight).toBe(most);
      expect(w.calls.filter((c) => c.startsWith('restart '))).toHaveLength(n);
    }
    // The two clusters of a `together` restart do not share their windows.
    const first = h.log.findIndex((l) => l.includes('rolled out'));
    expect(h.log.slice(0, first).filter((l) => l.includes('restart')).length).toBe(2 * most);
  });

  it('reads the rollouts of a request together when the cluster offers it, not once per workload and tick', async () => {
    // Prepare
    const names = Array.from({ length: 12 }, (_, i) => `Deployment/w${i}`);
    const inv = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: apic}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: ca, commonName: ca}]
certificates:
  - {name: server, issuer: ca, usage: server, commonName: s, secret: {name: s, namespace: apic}, consumers: [${names.join(', ')}], restart: together}
`);
    const h = harness(inv, dir, { versions: { 'rekey/apic/server': 'v2' } });
    const w = h.workloads.get('dc1')!;
    for (let i = 0; i < 12; i++) w.existing.add(`Deployment/apic/w${i}`);
    w.pollsToRollOut = 2;
    const batches: number[] = [];
    w.rolloutStatuses = async (refs) => {
      batches.push(refs.length);
      return new Map(
        await Promise.all(refs.map(async (r) => [`${r.kind}/${r.namespace}/${r.name}`, { status: await w.rolloutStatus(r) }] as const)),
      );
    };
    const record = await rotationAtRestart(h, inv, 'server');
    // Act
    await requestRestarts(h.deps, inv, record);
    // Assess
    expect((await h.journal.get(record.id))!.restarts.dc1?.state).toBe('completed');
    expect(batches.reduce((a, b) => a + b, 0)).toBe(24); // two readings per workload
    expect(batches.length).toBeLessThan(24);
    expect(Math.max(...batches)).toBeGreaterThan(1);
  });

  it('an aborted signal stops the waits and records the interruption', async () => {
    // Prepare
    const inv = inventory('rolling', '[{name: dc1, context: dc1}]');
    const abort = new AbortController();
    const h = harness(inv, dir, { versions: { 'rekey/apic/server': 'v2' }, signal: abort.signal });
    const w = h.workloads.get('dc1')!;
    for (const id of WORKLOADS) w.existing.add(id);
    w.held.add('Deployment/apic/apim');
    const record = await rotationAtRestart(h, inv, 'server');
    setTimeout(() => abort.abort(), 300);
    // Act
    await requestRestarts(h.deps, inv, record);
    // Assess
    expect((await h.journal.get(record.id))!.restarts.dc1).toMatchObject({
      state: 'failed',
      message: expect.stringMatching(/interrupted/),
    });
  });
});

describe('restarts outside rotations (SecretSynced -> planner)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => removeTempDir(dir));

  const synced = (item: string, cluster: string, change: string, rotationId?: string) =>
    makeEvent(
      EventType.SecretSynced,
      { inventory: 'apic', item, ...(rotationId && { rotationId }) },
      { cluster, namespace: 'apic', secret: `${item}-tls`, versionId: 'v2', change },
    );

  it('an updated Secret restarts its consumers in that cluster only; created ones and rotations restart nothing here', async () => {
    // Prepare
    const inv = inventory('together');
    const h = harness(inv, dir, { versions: { 'rekey/apic/server': 'v2' } });
    for (const w of h.workloads.values()) for (const id of WORKLOADS) w.existing.add(id);
    // Act
    await h.bus.publish([
      synced('server', 'dc2', 'updated'),
      synced('server', 'dc1', 'created'),
      synced('server', 'dc1', 'updated', 'rot-1'),
    ]);
    // Assess
    expect(h.workloads.get('dc1')!.calls).toEqual([]);
    expect(h.workloads.get('dc2')!.calls.sort()).toEqual(['restart Deployment/apic/apim', 'restart StatefulSet/apic/postgres']);
    expect(types(h.bus.published).filter((t) => t.startsWith('Restart'))).toEqual(['RestartRequested dc2', 'RestartCompleted dc2']);
  });

  it('clients (trust consumers) roll out before servers restart when both change in one sync', async () => {
    // Prepare
    const inv = inventory('together', '[{name: dc1, context: dc1}]');
    const h = harness(inv, dir, { versions: { 'rekey/apic/server': 's2', 'rekey/apic/client': 'c2' } });
    const w = h.workloads.get('dc1')!;
    for (const id of WORKLOADS) w.existing.add(id);
    w.pollsToRollOut = 3;
    // Act: the server's event first
    await h.bus.publish([synced('server', 'dc1', 'updated'), synced('client', 'dc1', 'updated')]);
    // Assess
    const hubDone = h.log.indexOf('dc1 rolled out Deployment/apic/hub');
    const firstServer = h.log.findIndex((l) => l.includes('restart') && !l.includes('hub'));
    expect(hubDone).toBeGreaterThanOrEqual(0);
    expect(firstServer).toBeGreaterThan(hubDone);
  });
});

describe('unlisted consumers and pause', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(() => removeTempDir(dir));

  it('reports workloads that use a managed Secret without being listed (named or by selector)', async () => {
    // Prepare
    const inv = inventory('together');
    const h = harness(inv, dir, { clusters: ['dc1'] });
    const w = h.workloads.get('dc1')!;
    w.selectors.set('apic/app=portal', [{ kind: 'Deployment', namespace: 'apic', name: 'portal-www' }]);
    const use = (secret: string, kind: 'Deployment' | 'Pod', name: string, via: 'volume' | 'env' = 'volume') => ({
      secret,
      namespace: 'apic',
      workload: { kind, namespace: 'apic', name },
      via,
    });
    w.uses.push(
      use('server-tls', 'Deployment', 'apim'),
      use('server-tls', 'Deployment', 'portal-www'),
      use('server-tls', 'Deployment', 'sneaky'),
      use('server-tls', 'Deployment', 'sneaky', 'env'),
      use('unrelated', 'Pod', 'x'),
      use('db-password', 'Pod', 'debug', 'env'),
    );
    // Act
    const unlisted = await findUnlistedConsumers(h.deps, inv);
    // Assess
    expect(unlisted).toEqual([
      { cluster: 'dc1', namespace: 'apic', secret: 'server-tls', item: 'server', workload: 'Deployment/apic/sneaky', via: 'volume' },
      { cluster: 'dc1', namespace: 'apic', secret: 'db-password', item: 'db-password', workload: 'Pod/apic/debug', via: 'env' },
    ]);
  });

  it('pauses and resumes the owner object on every cluster of the credential', async () => {
    // Prepare
    const inv = inventory('together');
    const h = harness(inv, dir, { clusters: ['dc1'] });
    const credential = inv.items.get('db-password') as Credential;
    // Act
    const paused = await pauseOwner(h.deps, inv, credential);
    const resumed = await resumeOwner(h.deps, inv, credential);
    // Assess
    expect(paused).toEqual({ patched: ['dc1'], unreachable: ['dc2'] });
    expect(resumed.patched).toEqual(['dc1']);
    expect(h.workloads.get('dc1')!.patches).toEqual([
      {
        object: { apiVersion: 'kubedb.com/v1', kind: 'Postgres', namespace: 'db', name: 'pg' },
        patch: { metadata: { annotations: { 'rekey/paused': 'true' } } },
      },
      {
        object: { apiVersion: 'kubedb.com/v1', kind: 'Postgres', namespace: 'db', name: 'pg' },
        patch: { metadata: { annotations: { 'rekey/paused': null } } },
      },
    ]);
  });
});
