// Seed 002 live on dc1 + dc2 (examples/apiconnect.yaml and apiconnect-single-dc.yaml, namespace made unique):
// every consumer of the table is deployed in both clusters (Deployments, StatefulSets, selector-matched
// workloads); the two-DC profile's rotation restarts exactly the rotated certificate's consumers in both clusters
// (policy `together`, within 5m: the rotation fails if a cluster is late); the single-DC profile restarts nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import type { Inventory } from '../../shared/domain/inventory/model.js';
import { REPO_ROOT, runMain } from '../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { loadInfraEnv } from '../infra/env.js';
import {
  apply,
  createTestNamespace,
  deleteNamespace,
  deploymentManifest,
  kubectl,
  statefulSetManifest,
  type ClusterContext,
} from '../infra/kube-fixtures.js';

const CONTEXTS: readonly ClusterContext[] = ['dc1', 'dc2'];
let root: string;
let kubeconfig: string;
const created: [ClusterContext, string][] = [];

/** The example with its namespace replaced (the clusters are shared with other tests). */
function exampleIn(file: string, ns: string): { path: string; inventory: Inventory } {
  const text = readFileSync(join(REPO_ROOT, 'examples', file), 'utf8').replaceAll('namespace: apic}', `namespace: ${ns}}`);
  const path = join(root, `${ns}-${file}`);
  writeFileSync(path, text);
  return { path, inventory: loadInventory(text) };
}

/** Every workload the inventory names, in `ns` of both clusters, each mounting the Secrets of the items that list it. */
function deployConsumers(inventory: Inventory, ns: string): void {
  const workloads = new Map<string, { kind: string; secrets: Set<string>; labels: Record<string, string> }>();
  const add = (kind: string, name: string, secret: string, labels: Record<string, string> = {}) => {
    const key = `${kind}/${name}`;
    const w = workloads.get(key) ?? { kind, secrets: new Set<string>(), labels: {} };
    w.secrets.add(secret);
    Object.assign(w.labels, labels);
    workloads.set(key, w);
  };
  for (const item of inventory.items.values()) {
    if (!item.secret) continue;
    const secret = item.kind === 'certificate' && item.perReplica ? `${item.secret.name}-0` : item.secret.name;
    for (const c of item.consumers) {
      if (c.kind === 'workload') add(c.workloadKind, c.name, secret);
      else {
        const [k, v] = c.selector.split('=') as [string, string];
        add('Deployment', `${v}-by-selector`, secret, { [k]: v });
      }
    }
  }
  const manifests = [...workloads.entries()].map(([key, w]) => {
    const name = key.split('/')[1]!;
    const o = { name, namespace: ns, replicas: 1, envFromSecrets: [...w.secrets] };
    const m = (w.kind === 'StatefulSet' ? statefulSetManifest(o) : deploymentManifest(o)) as {
      metadata: { labels?: Record<string, string> };
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    m.metadata.labels = { ...w.labels };
    Object.assign(m.spec.template.metadata.labels, w.labels);
    return m;
  });
  for (const ctx of CONTEXTS) apply(ctx, manifests);
}

function restartedIn(ctx: ClusterContext, ns: string): string[] {
  const list = JSON.parse(kubectl(ctx, ['get', 'deployments,statefulsets', '-n', ns, '-o', 'json'])) as {
    items: { kind: string; metadata: { name: string }; spec: { template: { metadata: { annotations?: Record<string, string> } } } }[];
  };
  return list.items
    .filter((o) => o.spec.template.metadata.annotations?.['rekey/restartedAt'])
    .map((o) => `${o.kind}/${o.metadata.name}`)
    .sort();
}

function namespaceInBoth(prefix: string): string {
  const ns = createTestNamespace('dc1', prefix);
  apply('dc2', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'rekey-test': 'true' } } }]);
  created.push(['dc1', ns], ['dc2', ns]);
  return ns;
}

beforeAll(async () => {
  root = await makeTempDir('rekey-seed002-');
  kubeconfig = loadInfraEnv({ require: ['kube'] }).kube.kubeconfig;
});
afterAll(async () => {
  for (const [ctx, ns] of created) deleteNamespace(ctx, ns);
  await removeTempDir(root);
});

describe('seed 002 on dc1 + dc2', () => {
  it("two data centres: a rotation restarts exactly its certificate's consumers (StatefulSets and Deployments), in both clusters, within 5 minutes", async () => {
    // Prepare
    const ns = namespaceInBoth('seed002');
    const { path, inventory } = exampleIn('apiconnect.yaml', ns);
    deployConsumers(inventory, ns);
    const state = join(root, 'state-2dc');
    const applied = await runMain(['--state', state, 'apply', '-f', path, '--kubeconfig', kubeconfig]);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    // Act (policy together + within 5m: a cluster that has not finished by then fails the rotation)
    const rotated = await runMain(['--state', state, 'rotate', 'management-natscluster-mgmt', '-f', path, '--kubeconfig', kubeconfig]);
    const afterFirst = CONTEXTS.map((ctx) => restartedIn(ctx, ns));
    const portal = await runMain(['--state', state, 'rotate', 'portal-server', '-f', path, '--kubeconfig', kubeconfig]);
    // Assess
    expect(rotated.code, rotated.stderr + rotated.stdout).toBe(0);
    expect(afterFirst).toEqual([['StatefulSet/natscluster'], ['StatefulSet/natscluster']]);
    expect(portal.code, portal.stderr + portal.stdout).toBe(0);
    for (const ctx of CONTEXTS)
      expect(restartedIn(ctx, ns)).toEqual(['Deployment/portal-www', 'StatefulSet/natscluster', 'StatefulSet/portal-db']);
    const status = JSON.parse((await runMain(['--state', state, '--json', 'status', '-f', path])).stdout) as {
      items: { name: string; rotation?: { status: string } }[];
    };
    expect(status.items.find((i) => i.name === 'management-natscluster-mgmt')!.rotation).toMatchObject({ status: 'completed' });
  });

  it('one data centre (restart: none): the same rotation writes the new Secret and restarts nothing', async () => {
    // Prepare
    const ns = namespaceInBoth('seed002s');
    const { path, inventory } = exampleIn('apiconnect-single-dc.yaml', ns);
    deployConsumers(inventory, ns);
    const state = join(root, 'state-1dc');
    const applied = await runMain(['--state', state, 'apply', '-f', path, '--kubeconfig', kubeconfig]);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const before = kubectl('dc1', [
      'get',
      'secret',
      'management-natscluster-mgmt',
      '-n',
      ns,
      '-o',
      'jsonpath={.metadata.annotations.rekey/version}',
    ]);
    // Act
    const rotated = await runMain(['--state', state, 'rotate', 'management-natscluster-mgmt', '-f', path, '--kubeconfig', kubeconfig]);
    // Assess
    expect(rotated.code, rotated.stderr + rotated.stdout).toBe(0);
    const after = kubectl('dc1', [
      'get',
      'secret',
      'management-natscluster-mgmt',
      '-n',
      ns,
      '-o',
      'jsonpath={.metadata.annotations.rekey/version}',
    ]);
    expect(after).not.toBe(before);
    for (const ctx of CONTEXTS) expect(restartedIn(ctx, ns)).toEqual([]);
  });
});
