import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, CONTEXTS, isWrite, kubeconfigPath, recordingLogger, uniqueName } from './support.js';

/**
 * Done when: applying a two-cluster inventory writes the Secrets in dc1 and dc2; a second apply makes no write
 * requests; an unmanaged Secret with the same name is left byte-for-byte alone and reported; drift is repaired.
 */
describe('sync into two real clusters', () => {
  const ns = uniqueName('rekey-sync');
  let admins: Record<(typeof CONTEXTS)[number], Admin>;
  let dir: string;
  let kubeconfig: string;

  const inventory = () =>
    loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: sync-it}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities:
  - {name: root, commonName: sync-it root, key: ECDSA-P256, secret: {name: root-ca, namespace: ${ns}}}
certificates:
  - {name: api, issuer: root, usage: server, commonName: api, dnsNames: [api.${ns}.svc], secret: {name: api-tls, namespace: ${ns}}}
  - {name: theirs, issuer: root, usage: client, commonName: theirs, secret: {name: their-tls, namespace: ${ns}}}
credentials:
  - {name: db, type: password, secret: {name: db-password, namespace: ${ns}, clusters: [dc2]}}
`);

  /** The CLI's composition root on a live target, as `rekey apply --kubeconfig` builds it; closed after `fn`. */
  const runtime = async (log = recordingLogger()) => {
    const rt = await composeLocal(inventory(), { stateDir: `${dir}/state`, target: { kind: 'kube', kubeconfig }, log });
    opened.push(rt.close);
    return { log, ...rt };
  };
  const opened: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of opened.splice(0)) await close();
  });

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    dir = await makeTempDir();
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    for (const a of Object.values(admins)) await a.createNamespace(ns);
    // Someone else's Secret with the name rekey wants, in dc2 only.
    await admins.dc2.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'their-tls', labels: { owner: 'team-x' }, annotations: { note: 'hands off' } },
        type: 'Opaque',
        stringData: { 'tls.crt': "theirs, not rekey's" },
      },
    });
  });
  afterAll(async () => {
    for (const a of Object.values(admins ?? {})) await a.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('writes every Secret in both clusters, leaves the unmanaged one byte-for-byte alone and reports it', async () => {
    // Prepare
    const before = await admins.dc2.core.readNamespacedSecret({ name: 'their-tls', namespace: ns });
    const { deps, log } = await runtime();
    // Act
    const result = await apply(deps, inventory());
    // Assess
    for (const c of CONTEXTS) {
      const list = await admins[c].core.listNamespacedSecret({ namespace: ns });
      const managed = list.items
        .filter((s) => s.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'rekey')
        .map((s) => s.metadata!.name)
        .sort();
      expect(managed).toEqual(c === 'dc1' ? ['api-tls', 'root-ca', 'their-tls'] : ['api-tls', 'db-password', 'root-ca']);
      const api = list.items.find((s) => s.metadata?.name === 'api-tls')!;
      expect(api.type).toBe('kubernetes.io/tls');
      expect(Object.keys(api.data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
      expect(api.metadata?.annotations).toMatchObject({ 'rekey/inventory': 'sync-it', 'rekey/item': 'api' });
    }
    const after = await admins.dc2.core.readNamespacedSecret({ name: 'their-tls', namespace: ns });
    expect(after).toEqual(before);
    expect(result.problems).toEqual([expect.stringMatching(new RegExp(`^dc2/${ns}/their-tls \\(theirs\\): .*not managed by rekey`))]);
    // no write ever went to the unmanaged Secret
    expect(log.requests((r) => r.cluster === 'dc2' && isWrite(r) && r.path.endsWith('/their-tls'))).toEqual([]);
  });

  it('a second apply makes no write requests and at most one list per namespace per cluster', async () => {
    // Prepare
    const { deps, log } = await runtime();
    // Act
    const result = await apply(deps, inventory());
    // Assess
    expect(result.sync.secrets.filter((s) => s.change === 'created' || s.change === 'updated')).toEqual([]);
    expect(log.requests(isWrite)).toEqual([]);
    for (const c of CONTEXTS) {
      const lists = log.requests((r) => r.cluster === c && r.method === 'GET' && r.path === `/api/v1/namespaces/${ns}/secrets`);
      expect(lists).toHaveLength(1);
    }
    const secretReads = log.requests((r) => r.path.includes('/secrets/'));
    expect(secretReads).toEqual([]);
  });

  it('detects drift (edited or deleted managed Secret), reports DriftDetected, repairs it on the next apply', async () => {
    // Prepare
    await admins.dc1.core.patchNamespacedSecret({
      name: 'api-tls',
      namespace: ns,
      body: [{ op: 'replace', path: '/data/tls.crt', value: Buffer.from('tampered').toString('base64') }],
    });
    await admins.dc2.core.deleteNamespacedSecret({ name: 'api-tls', namespace: ns });
    const { deps, bus, log } = await runtime();
    // Act
    const result = await apply(deps, inventory());
    // Assess
    const changes = result.sync.secrets.filter((s) => s.secret === 'api-tls').map((s) => [s.cluster, s.change, s.reason]);
    expect(changes).toEqual([
      ['dc1', 'updated', 'SecretDrifted'],
      ['dc2', 'created', 'SecretMissing'],
    ]);
    expect(bus.published.filter((e) => e.type === EventType.DriftDetected).map((e) => e.detail.cluster)).toEqual(['dc1']);
    expect(
      log
        .requests(isWrite)
        .map((r) => `${r.cluster} ${r.method} ${r.path}`)
        .sort(),
    ).toEqual([`dc1 PATCH /api/v1/namespaces/${ns}/secrets/api-tls`, `dc2 POST /api/v1/namespaces/${ns}/secrets`]);
    const dc1 = await admins.dc1.core.readNamespacedSecret({ name: 'api-tls', namespace: ns });
    const dc2 = await admins.dc2.core.readNamespacedSecret({ name: 'api-tls', namespace: ns });
    expect(dc1.data).toEqual(dc2.data);
    // and then it is quiet again
    for (const close of opened.splice(0)) await close();
    const again = await runtime();
    await apply(again.deps, inventory());
    expect(again.log.requests(isWrite)).toEqual([]);
  });
});
