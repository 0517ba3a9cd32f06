import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectClusters, EvictionBlockedError, ForbiddenError } from '../../../../shared/adapters/kube/index.js';
import { ConflictError, NotFoundError, RekeyError, UnmanagedObjectError, UsageError } from '../../../../shared/domain/errors.js';
import type { Cluster, DesiredSecret } from '../../../../shared/ports/cluster.js';
import type { Logger } from '../../../../shared/ports/logger.js';
import { FakeApiServer } from './fake-apiserver.js';

const desired = (name: string, version = 'v1'): DesiredSecret => ({
  name,
  namespace: 'apic',
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': `CERT ${version}`, 'tls.key': `KEY ${version}`, 'ca.crt': 'CA' },
  labels: { 'app.kubernetes.io/managed-by': 'rekey' },
  annotations: { 'rekey/version': version },
});

function recordingLogger(): Logger & { lines: { message: string; fields?: Record<string, unknown> }[] } {
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const add = (message: string, fields?: Record<string, unknown>) => void lines.push({ message, ...(fields && { fields }) });
  return { lines, debug: add, info: add, warn: add, error: add };
}

describe('kube adapter against a fake API server', () => {
  let api: FakeApiServer;
  let cluster: Cluster;
  let log: ReturnType<typeof recordingLogger>;
  const writes = () => api.requests.filter((r) => r.method !== 'GET');

  beforeEach(async () => {
    api = new FakeApiServer();
    const server = await api.start();
    log = recordingLogger();
    const clusters = await connectClusters([{ name: 'dc1', context: 'dc1' }], { kubeconfigYaml: api.kubeconfig(server), log });
    cluster = clusters.get('dc1')!;
  });
  afterEach(() => api.stop());

  it('creates, then writes nothing for unchanged content, then patches with a resourceVersion precondition', async () => {
    // Prepare
    const sink = cluster.secrets;
    // Act
    const first = await sink.writeSecret(desired('a'), { adopt: false });
    const seen = (await sink.listSecrets('apic')).find((s) => s.name === 'a')!;
    const again = await sink.writeSecret(desired('a'), { adopt: false, expected: seen });
    const changed = await sink.writeSecret(desired('a', 'v2'), { adopt: false, expected: seen });
    // Assess
    expect([first, again, changed]).toEqual(['created', 'unchanged', 'updated']);
    expect(writes().map((r) => [r.method, r.path, r.contentType])).toEqual([
      ['POST', '/api/v1/namespaces/apic/secrets', 'application/json'],
      ['PATCH', '/api/v1/namespaces/apic/secrets/a', 'application/merge-patch+json'],
    ]);
    expect(writes()[1]!.body).toMatchObject({
      metadata: { resourceVersion: seen.resourceVersion, annotations: { 'rekey/version': 'v2' } },
    });
    const after = await sink.getSecret('apic', 'a');
    expect(after?.data['tls.key']).toBe('KEY v2');
  });

  it('logs every request at debug level, method and path only, and reuses one connection', async () => {
    // Prepare
    await cluster.secrets.writeSecret(desired('a'), { adopt: false });
    // Act
    for (let i = 0; i < 5; i++) await cluster.secrets.listSecrets('apic');
    // Assess
    const requests = log.lines.filter((l) => l.message === 'kube request');
    expect(requests).toHaveLength(6);
    expect(requests[0]!.fields).toEqual({ cluster: 'dc1', method: 'POST', path: '/api/v1/namespaces/apic/secrets' });
    expect(JSON.stringify(log.lines)).not.toContain('KEY');
    expect(JSON.stringify(log.lines)).not.toContain('not-a-real-token');
    expect(api.connections).toBe(1);
  });

  it("sends the kubeconfig user's static token with every request, the first and the ones after (credentials derived once)", async () => {
    // Act
    await cluster.secrets.writeSecret(desired('a'), { adopt: false });
    for (let i = 0; i < 3; i++) await cluster.secrets.listSecrets('apic');
    await cluster.secrets.getSecret('apic', 'a');
    // Assess
    expect(api.requests.map((r) => `${r.method} ${r.authorization}`)).toEqual([
      'POST Bearer not-a-real-token',
      ...Array.from({ length: 4 }, () => 'GET Bearer not-a-real-token'),
    ]);
    expect(api.connections).toBe(1);
  });

  it('refuses to touch an unmanaged Secret unless adopting, without sending a write', async () => {
    // Prepare
    api.put('/api/v1/namespaces/apic/secrets/theirs', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'theirs', namespace: 'apic' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': 'eA==' },
    });
    const seen = (await cluster.secrets.listSecrets('apic'))[0]!;
    // Act
    const refused = cluster.secrets.writeSecret(desired('theirs'), { adopt: false, expected: seen });
    // Assess
    await expect(refused).rejects.toThrow(UnmanagedObjectError);
    await expect(refused).rejects.toThrow(/Secret apic\/theirs on cluster dc1 exists and is not managed by rekey/);
    expect(writes()).toHaveLength(0);
    // Act: adopt
    const adopted = await cluster.secrets.writeSecret(desired('theirs'), { adopt: true, expected: seen });
    // Assess
    expect(adopted).toBe('updated');
    expect(writes()[0]!.body).toMatchObject({ metadata: { labels: { 'app.kubernetes.io/managed-by': 'rekey' } } });
  });

  it('reports a Secret that appeared after listing: unmanaged, or a conflict', async () => {
    // Prepare
    api.put('/api/v1/namespaces/apic/secrets/late', { metadata: { name: 'late', namespace: 'apic' }, type: 'Opaque', data: {} });
    api.put('/api/v1/namespaces/apic/secrets/ours', {
      metadata: { name: 'ours', namespace: 'apic', labels: { 'app.kubernetes.io/managed-by': 'rekey' } },
      type: 'Opaque',
      data: {},
    });
    // Act + Assess
    await expect(cluster.secrets.writeSecret(desired('late'), { adopt: false })).rejects.toThrow(UnmanagedObjectError);
    await expect(cluster.secrets.writeSecret(desired('ours'), { adopt: false })).rejects.toThrow(ConflictError);
  });

  it('turns a lost race into a ConflictError (resourceVersion precondition)', async () => {
    // Prepare
    await cluster.secrets.writeSecret(desired('a'), { adopt: false });
    const stale = (await cluster.secrets.listSecrets('apic'))[0]!;
    await cluster.secrets.writeSecret(desired('a', 'v2'), { adopt: false, expected: stale });
    // Act
    const lost = cluster.secrets.writeSecret(desired('a', 'v3'), { adopt: false, expected: stale });
    // Assess
    await expect(lost).rejects.toThrow(ConflictError);
  });

  it('says clearly when RBAC refuses, or the namespace is missing', async () => {
    // Prepare
    api.forbidden.add('kube-system');
    api.missingNamespaces.add('nowhere');
    // Act
    const forbidden = cluster.secrets.listSecrets('kube-system');
    const missing = cluster.secrets.writeSecret({ ...desired('a'), namespace: 'nowhere' }, { adopt: false });
    // Assess
    await expect(forbidden).rejects.toThrow(ForbiddenError);
    await expect(forbidden).rejects.toThrow(/^rekey's service account may not list secrets in kube-system on cluster dc1/);
    await expect(missing).rejects.toThrow(/namespace nowhere does not exist on cluster dc1: creating namespaces is not rekey's job/);
  });

  it('restarts a Deployment by patching its pod template once per versions hash', async () => {
    // Prepare
    api.put('/apis/apps/v1/namespaces/apic/deployments/apim', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'apim', namespace: 'apic', generation: 1 },
      spec: { replicas: 1, template: { metadata: { labels: { app: 'apim' } }, spec: {} } },
    });
    const ref = { kind: 'Deployment', namespace: 'apic', name: 'apim' } as const;
    const at = new Date('2026-01-02T03:04:05Z');
    // Act
    const first = await cluster.workloads!.restart(ref, 'h1', at);
    const second = await cluster.workloads!.restart(ref, 'h1', at);
    // Assess
    expect([first, second]).toEqual(['Updated', 'NotUpdated']);
    const patches = writes();
    expect(patches).toHaveLength(1);
    expect(patches[0]!.contentType).toBe('application/strategic-merge-patch+json');
    expect(patches[0]!.body).toMatchObject({
      spec: { template: { metadata: { annotations: { 'rekey/restartedAt': '2026-01-02T03:04:05.000Z', 'rekey/versions': 'h1' } } } },
    });
  });

  it('merge-patches a custom resource with the body exactly as the inventory wrote it (nulls, odd keys)', async () => {
    // Prepare
    api.put('/apis/kubedb.com/v1/namespaces/db/postgreses/pg', {
      apiVersion: 'kubedb.com/v1',
      kind: 'Postgres',
      metadata: { name: 'pg', namespace: 'db', annotations: { 'rekey/paused': 'true' } },
      spec: {},
    });
    const patch = { metadata: { annotations: { 'rekey/paused': null } }, spec: { 'x-kubernetes-odd': true, halted: null } };
    // Act
    await cluster.workloads!.mergePatch({ apiVersion: 'kubedb.com/v1', kind: 'Postgres', namespace: 'db', name: 'pg' }, patch);
    // Assess
    const sent = writes();
    expect(sent.map((r) => [r.method, r.path, r.contentType])).toEqual([
      ['PATCH', '/apis/kubedb.com/v1/namespaces/db/postgreses/pg', 'application/merge-patch+json'],
    ]);
    expect(sent[0]!.body).toEqual({
      ...patch,
      apiVersion: 'kubedb.com/v1',
      kind: 'Postgres',
      metadata: { annotations: { 'rekey/paused': null }, name: 'pg', namespace: 'db' },
    });
  });

  it('evicts a bare pod through the Eviction API and surfaces a PodDisruptionBudget refusal as retryable', async () => {
    // Prepare
    const pod = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'apic', uid: `uid-${name}`, creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: {},
    });
    api.put('/api/v1/namespaces/apic/pods/free', pod('free'));
    api.put('/api/v1/namespaces/apic/pods/held', pod('held'));
    api.protectedPods.add('held');
    const at = new Date('2026-01-02T00:00:00Z');
    // Act
    const free = await cluster.workloads!.restart({ kind: 'Pod', namespace: 'apic', name: 'free' }, 'h', at);
    const held = cluster.workloads!.restart({ kind: 'Pod', namespace: 'apic', name: 'held' }, 'h', at);
    // Assess
    expect(free).toBe('Updated');
    await expect(held).rejects.toThrow(EvictionBlockedError);
    await expect(held).rejects.toMatchObject({ retryable: true });
    const evictions = writes();
    expect(evictions.every((r) => r.method === 'POST' && r.path.endsWith('/eviction'))).toBe(true);
    expect(evictions[0]!.body).toMatchObject({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      deleteOptions: { preconditions: { uid: 'uid-free' } },
    });
    expect(api.requests.some((r) => r.method === 'DELETE')).toBe(false);
  });

  it('reads many rollouts with one list per namespace and kind, each judged as kubectl would', async () => {
    // Prepare
    const deployment = (name: string, generation: number, status: object) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'apic', generation },
      spec: { replicas: 1, template: { spec: {} } },
      status,
    });
    api.put(
      '/apis/apps/v1/namespaces/apic/deployments/done',
      deployment('done', 2, { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }),
    );
    api.put('/apis/apps/v1/namespaces/apic/deployments/new', deployment('new', 3, { observedGeneration: 2 }));
    api.put(
      '/apis/apps/v1/namespaces/apic/deployments/stuck',
      deployment('stuck', 2, {
        observedGeneration: 2,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      }),
    );
    const refs = ['done', 'new', 'stuck', 'deleted'].map((name) => ({ kind: 'Deployment', namespace: 'apic', name }) as const);
    const pod = { kind: 'Pod', namespace: 'apic', name: 'evicted' } as const;
    // Act
    const readings = await cluster.workloads!.rolloutStatuses!([...refs, pod]);
    // Assess
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['GET /apis/apps/v1/namespaces/apic/deployments', 'GET /api/v1/namespaces/apic/pods']),
    );
    expect(api.requests).toHaveLength(2);
    expect(readings.get('Deployment/apic/done')).toEqual({ status: { done: true, message: '1 of 1 replicas updated and available' } });
    expect(readings.get('Deployment/apic/new')).toEqual({
      status: { done: false, message: 'waiting for the deployment spec update to be observed' },
    });
    expect(readings.get('Deployment/apic/stuck')).toMatchObject({ error: { message: expect.stringMatching(/progress deadline/) } });
    expect(readings.get('Deployment/apic/deleted')).toMatchObject({ error: expect.any(NotFoundError) });
    expect(readings.get('Pod/apic/evicted')).toEqual({ status: { done: true, message: 'pod evicted' } });
  });
});

describe('connectClusters', () => {
  it('names a missing context, and lists the ones there are', async () => {
    // Prepare
    const api = new FakeApiServer();
    const yaml = api.kubeconfig('http://127.0.0.1:1', ['dc1', 'other']);
    // Act
    const connecting = connectClusters(
      [
        { name: 'dc1', context: 'dc1' },
        { name: 'dc2', context: 'dc2' },
      ],
      { kubeconfigYaml: yaml, log: recordingLogger() },
    );
    // Assess
    await expect(connecting).rejects.toThrow(UsageError);
    await expect(connecting).rejects.toThrow(
      'cluster "dc2": context "dc2" is not in the kubeconfig given as text (contexts there: dc1, other)',
    );
  });

  it('refuses unknown options', async () => {
    // Act + Assess
    await expect(connectClusters([], { log: recordingLogger(), kubeconfigYaml: 'apiVersion: v1', nope: 1 } as never)).rejects.toThrow(
      RekeyError,
    );
  });

  it('sends the token of a token provider (EKS) instead of the kubeconfig user', async () => {
    // Prepare
    const api = new FakeApiServer();
    const server = await api.start();
    const asked: string[] = [];
    try {
      const clusters = await connectClusters([{ name: 'eks', context: 'dc1' }], {
        kubeconfigYaml: api.kubeconfig(server),
        tokenProvider: async (name) => {
          asked.push(name);
          return 'k8s-aws-v1.presigned';
        },
        log: recordingLogger(),
      });
      // Act
      await clusters.get('eks')!.secrets.listSecrets('apic');
      await clusters.get('eks')!.secrets.listSecrets('apic');
      // Assess
      expect(asked).toEqual(['eks']);
      expect(api.requests.map((r) => r.authorization)).toEqual(['Bearer k8s-aws-v1.presigned', 'Bearer k8s-aws-v1.presigned']);
    } finally {
      await api.stop();
    }
  });
});

describe('connectClusters without inventory clusters', () => {
  it('maps the implicit "default" cluster to the kubeconfig current context', async () => {
    // Prepare
    const api = new FakeApiServer();
    const server = await api.start();
    try {
      const clusters = await connectClusters([{ name: 'default', context: 'default' }], {
        kubeconfigYaml: api.kubeconfig(server, ['kind-local']),
        log: recordingLogger(),
      });
      // Act
      const list = await clusters.get('default')!.secrets.listSecrets('apic');
      // Assess
      expect(list).toEqual([]);
      expect(api.requests).toHaveLength(1);
    } finally {
      await api.stop();
    }
  });
});
