import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { planRestarts, restartDeadline, RestartPhase, SkipReason } from '../../../../shared/domain/restart/plan.js';
import { versionsHash } from '../../../../shared/domain/restart/versions-hash.js';
import { parseWorkloadId, workloadId } from '../../../../shared/domain/restart/workload.js';

const inventory = (restart: string) =>
  loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: apic}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities:
  - {name: mgmt-ca, commonName: management-ca, secret: {name: management-ca, namespace: apic}}
certificates:
  - name: mgmt-client
    issuer: mgmt-ca
    usage: client
    commonName: management-client
    secret: {name: management-client, namespace: apic}
    consumers: [Deployment/apim, Deployment/portal-proxy]
    restart: ${restart}
  - name: mgmt-server
    issuer: mgmt-ca
    usage: server
    commonName: management-server
    secret: {name: management-server, namespace: apic}
    consumers:
      - Deployment/apim
      - StatefulSet/postgres
      - {selector: app.kubernetes.io/part-of=portal}
      - {selector: tier=db, namespace: db}
    restart: ${restart}
  - name: quiet
    issuer: mgmt-ca
    usage: client
    commonName: quiet
    secret: {name: quiet, namespace: apic}
    consumers: [Deployment/x]
    restart: none
  - name: lonely
    issuer: mgmt-ca
    usage: client
    commonName: lonely
    secret: {name: lonely, namespace: apic}
`);

const SYNCED = new Date('2026-03-01T10:00:00Z');

describe('restart planning', () => {
  it('together/within: every cluster at once, deadline = sync time + within, consumers resolved to targets', () => {
    // Prepare
    const inv = inventory('{policy: together, within: 5m}');
    const item = inv.items.get('mgmt-server')!;
    // Act
    const plan = planRestarts({ changes: [{ item, versions: { 'rekey/apic/mgmt-server': 'v2' } }], syncedAt: SYNCED });
    // Assess
    expect(plan.requests.map((r) => [r.cluster, r.policy, r.after, r.deadline])).toEqual([
      ['dc1', 'together', [], '2026-03-01T10:05:00.000Z'],
      ['dc2', 'together', [], '2026-03-01T10:05:00.000Z'],
    ]);
    expect(plan.requests[0]!.targets).toEqual([
      { kind: 'workload', ref: { kind: 'Deployment', namespace: 'apic', name: 'apim' } },
      { kind: 'workload', ref: { kind: 'StatefulSet', namespace: 'apic', name: 'postgres' } },
      { kind: 'selector', namespace: 'apic', selector: 'app.kubernetes.io/part-of=portal' },
      { kind: 'selector', namespace: 'db', selector: 'tier=db' },
    ]);
    expect(plan.requests[0]!.versionsHash).toBe(versionsHash({ 'rekey/apic/mgmt-server': 'v2' }));
    expect(plan.requests[0]!.versionsHash).toBe(plan.requests[1]!.versionsHash);
    expect(plan.budget).toBeUndefined(); // the worker sizes the window from the consumers it finds
  });

  it('rolling: one cluster after another, no deadline without within', () => {
    // Prepare
    const inv = inventory('rolling');
    // Act
    const plan = planRestarts({ changes: [{ item: inv.items.get('mgmt-server')!, versions: { a: '1' } }], syncedAt: SYNCED, budget: 2 });
    // Assess
    expect(plan.requests.map((r) => [r.cluster, r.after, r.deadline])).toEqual([
      ['dc1', [], undefined],
      ['dc2', ['dc1'], undefined],
    ]);
    expect(plan.budget).toBe(2);
  });

  it('only the clusters where the Secret changed', () => {
    // Prepare
    const inv = inventory('together');
    // Act
    const plan = planRestarts({
      changes: [{ item: inv.items.get('mgmt-server')!, versions: { a: '1' }, clusters: ['dc2'] }],
      syncedAt: SYNCED,
    });
    // Assess
    expect(plan.requests.map((r) => r.cluster)).toEqual(['dc2']);
  });

  it('trust consumers (clients) before servers; a workload in both restarts once, in the trust phase, with both versions', () => {
    // Prepare
    const inv = inventory('together');
    const client = { item: inv.items.get('mgmt-client')!, versions: { client: 'c2' } };
    const server = { item: inv.items.get('mgmt-server')!, versions: { server: 's2' } };
    // Act: given in the "wrong" order
    const plan = planRestarts({ changes: [server, client], syncedAt: SYNCED });
    // Assess
    expect(plan.requests.map((r) => [r.phase, r.cluster])).toEqual([
      [RestartPhase.Trust, 'dc1'],
      [RestartPhase.Trust, 'dc2'],
      [RestartPhase.Serve, 'dc1'],
      [RestartPhase.Serve, 'dc2'],
    ]);
    const trust = plan.requests[0]!;
    const serve = plan.requests[2]!;
    const names = (r: typeof trust) => r.targets.map((t) => (t.kind === 'workload' ? t.ref.name : t.selector));
    expect(names(trust)).toEqual(['apim', 'portal-proxy']);
    expect(names(serve)).toEqual(['postgres', 'app.kubernetes.io/part-of=portal', 'tier=db']);
    expect(trust.versionsHash).toBe(versionsHash({ client: 'c2', server: 's2' }));
    expect(serve.versionsHash).toBe(versionsHash({ server: 's2' }));
  });

  it.each([
    ['quiet', SkipReason.PolicyNone],
    ['lonely', SkipReason.NoConsumers],
  ])('%s restarts nothing: %s', (name, reason) => {
    // Prepare
    const inv = inventory('together');
    // Act
    const plan = planRestarts({ changes: [{ item: inv.items.get(name)!, versions: {} }], syncedAt: SYNCED });
    // Assess
    expect(plan.requests).toEqual([]);
    expect(plan.skipped).toEqual([{ item: name, reason }]);
  });

  it('policy none for the whole item restarts nothing anywhere', () => {
    // Prepare
    const inv = inventory('none');
    // Act
    const plan = planRestarts({
      changes: [
        { item: inv.items.get('mgmt-server')!, versions: { a: '1' } },
        { item: inv.items.get('mgmt-client')!, versions: { b: '1' } },
      ],
      syncedAt: SYNCED,
    });
    // Assess
    expect(plan.requests).toEqual([]);
  });
});

describe('versions hash and workload ids', () => {
  it('does not depend on the order of units', () => {
    // Act + Assess
    expect(versionsHash({ a: '1', b: '2' })).toBe(versionsHash({ b: '2', a: '1' }));
    expect(versionsHash({ a: '1', b: '2' })).not.toBe(versionsHash({ a: '1', b: '3' }));
    expect(versionsHash({})).toMatch(/^[0-9a-f]{64}$/);
  });

  it('round-trips Kind/namespace/name and refuses anything else', () => {
    // Prepare
    const ref = { kind: 'StatefulSet', namespace: 'apic', name: 'portal-db' } as const;
    // Act + Assess
    expect(parseWorkloadId(workloadId(ref))).toEqual(ref);
    expect(parseWorkloadId('Job/apic/x')).toBeUndefined();
    expect(parseWorkloadId('Deployment/x')).toBeUndefined();
  });

  it('deadline: the policy deadline when there is one, else start + timeout', () => {
    // Act + Assess
    expect(restartDeadline('2026-03-01T10:05:00.000Z', SYNCED).toISOString()).toBe('2026-03-01T10:05:00.000Z');
    expect(restartDeadline(undefined, SYNCED, 60_000).toISOString()).toBe('2026-03-01T10:01:00.000Z');
  });
});
