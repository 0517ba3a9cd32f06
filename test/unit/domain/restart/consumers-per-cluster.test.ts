import { describe, expect, it } from 'vitest';
import { consumerMap } from '../../../../shared/app/plan.js';
import { InvalidInventoryError } from '../../../../shared/domain/errors.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { consumersIn } from '../../../../shared/domain/inventory/model.js';
import { planRestarts } from '../../../../shared/domain/restart/plan.js';

const inventory = (consumers: string, secretClusters = '') =>
  loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: apic}
clusters: [{name: dc1}, {name: dc2}]
authorities: [{name: mgmt-ca, commonName: management-ca}]
certificates:
  - name: replicator
    issuer: mgmt-ca
    usage: client
    commonName: replicator
    secret: {name: replicator, namespace: apic${secretClusters}}
    consumers: ${consumers}
    restart: {policy: together, within: 5m}
`);

const SYNCED = new Date('2026-03-01T10:00:00Z');

function issuesOf(text: () => unknown): string[] {
  try {
    text();
  } catch (e) {
    if (e instanceof InvalidInventoryError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

describe('consumers per cluster', () => {
  it('the string form still means every cluster; {ref, clusters} and selectors with clusters resolve to those clusters', () => {
    // Act
    const inv = inventory('[Deployment/apim, {ref: Deployment/management-tunnel, clusters: [dc1]}, {selector: app=pg, clusters: [dc2]}]');
    const item = inv.items.get('replicator')!;
    // Assess
    expect(item.consumers).toEqual([
      { kind: 'workload', workloadKind: 'Deployment', name: 'apim' },
      { kind: 'workload', workloadKind: 'Deployment', name: 'management-tunnel', clusters: ['dc1'] },
      { kind: 'selector', selector: 'app=pg', clusters: ['dc2'] },
    ]);
    expect(consumersIn(item, 'dc1').map((c) => (c.kind === 'workload' ? c.name : c.selector))).toEqual(['apim', 'management-tunnel']);
    expect(consumersIn(item, 'dc2').map((c) => (c.kind === 'workload' ? c.name : c.selector))).toEqual(['apim', 'app=pg']);
  });

  it('a restart plan targets a site-only consumer in its own cluster only', () => {
    // Prepare
    const item = inventory('[Deployment/apim, {ref: Deployment/management-tunnel, clusters: [dc1]}]').items.get('replicator')!;
    // Act
    const plan = planRestarts({ changes: [{ item, versions: { 'rekey/apic/replicator': 'v2' } }], syncedAt: SYNCED });
    // Assess
    expect(plan.requests.map((r) => [r.cluster, r.targets.map((t) => (t.kind === 'workload' ? t.ref.name : t.selector))])).toEqual([
      ['dc1', ['apim', 'management-tunnel']],
      ['dc2', ['apim']],
    ]);
  });

  it('a cluster where no consumer runs gets no restart request at all', () => {
    // Prepare
    const item = inventory('[{ref: Deployment/management-tunnel, clusters: [dc1]}]').items.get('replicator')!;
    // Act
    const plan = planRestarts({ changes: [{ item, versions: { 'rekey/apic/replicator': 'v2' } }], syncedAt: SYNCED });
    // Assess
    expect(plan.requests.map((r) => r.cluster)).toEqual(['dc1']);
  });

  it("plan's consumer map lists each cluster of the item with who restarts there", () => {
    // Prepare
    const inv = inventory('[Deployment/apim, {ref: Deployment/management-tunnel, clusters: [dc1]}]');
    // Act
    const map = consumerMap(inv);
    // Assess
    expect(map).toEqual([
      { item: 'replicator', cluster: 'dc1', consumers: ['Deployment/apim', 'Deployment/management-tunnel'], perCluster: true },
      { item: 'replicator', cluster: 'dc2', consumers: ['Deployment/apim'], perCluster: true },
    ]);
  });

  it.each([
    ['an unknown cluster', '[{ref: Deployment/t, clusters: [dc9]}]', '', 'certificates[0].consumers[0].clusters[0]: unknown cluster "dc9"'],
    [
      'a cluster the Secret is not written to',
      '[{ref: Deployment/t, clusters: [dc2]}]',
      ', clusters: [dc1]',
      'certificates[0].consumers[0].clusters[0]: the item\'s Secret is not written to cluster "dc2"',
    ],
    ['an empty cluster list', '[{ref: Deployment/t, clusters: []}]', '', 'certificates[0].consumers[0]'],
    ['a bad workload reference', '[{ref: Service/t, clusters: [dc1]}]', '', 'certificates[0].consumers[0]'],
    ['an unknown field', '[{ref: Deployment/t, cluster: [dc1]}]', '', 'certificates[0].consumers[0]'],
  ])('refuses %s, naming the field', (_what, consumers, secretClusters, expected) => {
    // Act
    const issues = issuesOf(() => inventory(consumers, secretClusters));
    // Assess
    expect(
      issues.some((i) => i.startsWith(expected)),
      issues.join('\n'),
    ).toBe(true);
  });
});
