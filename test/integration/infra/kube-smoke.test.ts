// Smoke test of the real clusters (test/infra): in dc1 and dc2 a Deployment becomes
// available on kwok's fake nodes and finishes a rollout after its template changes.
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInfraEnv } from '../../infra/env.js';
import { createTestNamespace, deleteNamespace, deploymentManifest, apply, type ClusterContext } from '../../infra/kube-fixtures.js';

const CONTEXTS: ClusterContext[] = ['dc1', 'dc2'];

function clients(context: ClusterContext) {
  const kc = new KubeConfig();
  kc.loadFromFile(loadInfraEnv({ require: ['kube'] }).kube.kubeconfig);
  kc.setCurrentContext(context);
  return { apps: kc.makeApiClient(AppsV1Api), core: kc.makeApiClient(CoreV1Api) };
}

/** Done rolling out: the controller saw this generation and every replica is updated and available. */
function rolledOut(d: V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
    s.updatedReplicas === want &&
    s.availableReplicas === want &&
    (s.replicas ?? 0) === want &&
    !s.unavailableReplicas
  );
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const namespaces = new Map<ClusterContext, string>();

beforeAll(() => {
  for (const c of CONTEXTS) namespaces.set(c, createTestNamespace(c, 'infra-smoke'));
});
afterAll(() => {
  for (const [c, ns] of namespaces) deleteNamespace(c, ns);
});

describe.each(CONTEXTS)('Kubernetes cluster %s', (context) => {
  it('serves the pinned version with RBAC and Ready kwok nodes', async () => {
    // Prepare
    const env = loadInfraEnv({ require: ['kube'] });
    const { core } = clients(context);

    // Act
    const nodes = await core.listNode({ labelSelector: 'type=kwok' });
    const version = await fetch(`${env.kube[context].server}/version`).catch((e: unknown) => e);

    // Assess
    expect(nodes.items.length).toBeGreaterThanOrEqual(2);
    for (const n of nodes.items) {
      expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(n.spec?.taints ?? []).toEqual([]);
    }
    // the API server's certificate is not from a public CA: a plain fetch must not trust it
    expect(version).toBeInstanceOf(Error);
  });

  it('makes a Deployment available and finishes a rollout after its template annotation changes', async () => {
    // Prepare
    const ns = namespaces.get(context)!;
    const { apps, core } = clients(context);
    apply(context, [deploymentManifest({ name: 'web', namespace: ns, replicas: 2, annotations: { 'rekey.test/rev': '1' } })]);
    const first = await waitFor('first rollout', 60_000, async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      return rolledOut(d) ? d : undefined;
    });
    const podsBefore = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });

    // Act
    await apps.patchNamespacedDeployment({
      name: 'web',
      namespace: ns,
      body: [{ op: 'replace', path: '/spec/template/metadata/annotations/rekey.test~1rev', value: '2' }],
    });
    const second = await waitFor('rollout after the template change', 60_000, async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      return (d.metadata?.generation ?? 0) > (first.metadata?.generation ?? 0) && rolledOut(d) ? d : undefined;
    });

    // Assess
    expect(first.status?.availableReplicas).toBe(2);
    expect(second.status?.updatedReplicas).toBe(2);
    expect(second.spec?.template.metadata?.annotations?.['rekey.test/rev']).toBe('2');
    const podsAfter = await waitFor('old pods gone', 30_000, async () => {
      const l = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
      return l.items.length === 2 && l.items.every((p) => !p.metadata?.deletionTimestamp) ? l : undefined;
    });
    const before = new Set(podsBefore.items.map((p) => p.metadata?.name));
    for (const p of podsAfter.items) {
      expect(before.has(p.metadata?.name)).toBe(false); // really replaced
      expect(p.spec?.nodeName).toMatch(new RegExp(`^${context}-node-`));
      expect(p.status?.phase).toBe('Running');
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(p.metadata?.annotations?.['rekey.test/rev']).toBe('2');
      // ServiceAccount admission + token controller work: the projected token volume is there
      expect(p.spec?.volumes?.some((v) => v.name.startsWith('kube-api-access-'))).toBe(true);
    }
  });
});
