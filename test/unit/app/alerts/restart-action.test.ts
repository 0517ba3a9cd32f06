import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemediationFile } from '../../../../shared/adapters/local/remediation-file.js';
import { alertService } from '../../../../shared/app/alerts/service.js';
import { EventType } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { harness } from '../restart/fakes.js';

/** The alert action `restart`: restart an item's consumers without rotating (no new version, no rotation record). */

const inventoryOf = (restart: string) =>
  loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: apic}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities:
  - {name: root, commonName: root}
certificates:
  - name: server
    issuer: root
    usage: server
    commonName: server
    secret: {name: server, namespace: apic}
    consumers: [Deployment/apim, StatefulSet/postgres]
    restart: ${restart}
  - {name: lonely, issuer: root, usage: server, commonName: lonely, secret: {name: lonely, namespace: apic}}
alerts:
  - name: stuck-pods
    match: {alertmanager: {alertname: PodsServeOldCertificate}}
    action: restart
    itemLabel: rekey_item
    rateLimit: {per: 1h, max: 2}
`);

const webhook = (fingerprint: string, item: string, startsAt: string) => ({
  version: '4' as const,
  status: 'firing' as const,
  alerts: [{ status: 'firing' as const, labels: { alertname: 'PodsServeOldCertificate', rekey_item: item }, startsAt, fingerprint }],
});

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-restart-action-');
});
afterEach(() => removeTempDir(dir));

function setup(restart: string) {
  const inventory = inventoryOf(restart);
  const h = harness(inventory, dir, { versions: { 'rekey/apic/server': 'v7' } });
  for (const w of h.workloads.values()) for (const id of ['Deployment/apic/apim', 'StatefulSet/apic/postgres']) w.existing.add(id);
  const service = alertService({ deps: h.deps, inventory, store: new RemediationFile(join(dir, 'remediations.json')) });
  return { inventory, h, service };
}

describe('alert action restart', () => {
  it('restarts the consumers in every cluster of the item, starts no rotation, and a second firing restarts them again', async () => {
    // Prepare
    const { h, service } = setup('{policy: together, within: 5m}');

    // Act
    const first = await service.receiveAlertmanager(webhook('fp-1', 'server', '2026-11-30T10:00:00Z'));
    const hashesAfterFirst = [...h.workloads.get('dc1')!.hashes.values()];
    const second = await service.receiveAlertmanager(webhook('fp-1', 'server', '2026-11-30T10:20:00Z'));

    // Assess
    expect(first.map((d) => d.decision)).toEqual(['acted']);
    expect(first[0]!.reason).toMatch(/^restart requested \(dc1: 2 workload\(s\), dc2: 2 workload\(s\)\)$/);
    expect(second.map((d) => d.decision)).toEqual(['acted']);
    for (const w of h.workloads.values()) {
      expect(w.calls.filter((c) => c.startsWith('restart'))).toEqual([
        'restart Deployment/apic/apim',
        'restart StatefulSet/apic/postgres',
        'restart Deployment/apic/apim',
        'restart StatefulSet/apic/postgres',
      ]);
    }
    // each remediation restarts for its own reason: the hash changed, so the second one was a real restart
    expect(new Set([...hashesAfterFirst, ...h.workloads.get('dc1')!.hashes.values()]).size).toBe(2);
    expect(await h.journal.listByItem('apic', 'server')).toEqual([]);
    const requested = h.bus.published.filter((e) => e.type === EventType.RestartRequested);
    expect(requested.map((e) => e.detail.rotationId)).toEqual([undefined, undefined, undefined, undefined]);
    expect(h.bus.published.filter((e) => e.type === EventType.RestartCompleted)).toHaveLength(4);
  });

  it('an item with restart policy none is still restarted when a rule asks (one cluster after the other)', async () => {
    // Prepare
    const { h, service } = setup('none');

    // Act
    const decisions = await service.receiveAlertmanager(webhook('fp-2', 'server', '2026-11-30T11:00:00Z'));

    // Assess
    expect(decisions.map((d) => d.decision)).toEqual(['acted']);
    const firstDc2 = h.log.findIndex((l) => l.startsWith('dc2'));
    const lastDc1 = Math.max(...h.log.map((l, i) => (l.startsWith('dc1') ? i : -1)));
    expect(firstDc2).toBeGreaterThan(lastDc1);
  });

  it('an item without consumers is a failed remediation that says why, and nothing is restarted', async () => {
    // Prepare
    const { h, service } = setup('{policy: together, within: 5m}');

    // Act
    const decisions = await service.receiveAlertmanager(webhook('fp-3', 'lonely', '2026-11-30T12:00:00Z'));

    // Assess
    expect(decisions).toEqual([
      expect.objectContaining({ decision: 'failed', item: 'lonely', reason: expect.stringMatching(/^nothing to restart: .*consumer/) }),
    ]);
    expect(h.bus.published.filter((e) => e.type === EventType.RestartRequested)).toEqual([]);
  });
});
