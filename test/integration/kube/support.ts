import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';
import type { Logger } from '../../../shared/ports/logger.js';
import { loadInfraEnv } from '../../infra/env.js';

export const CONTEXTS = ['dc1', 'dc2'] as const;
export type Context = (typeof CONTEXTS)[number];

/** The infra's kubeconfig (admin, contexts dc1 and dc2). Fails, never skips, when the clusters are not there. */
export async function kubeconfigPath(): Promise<string> {
  return loadInfraEnv({ require: ['kube'] }).kube.kubeconfig;
}

/** Admin clients for setting up and checking the clusters (tests may use client-node directly). */
export class Admin {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  readonly objects: KubernetesObjectApi;

  constructor(
    readonly context: Context,
    readonly kc: KubeConfig,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.policy = kc.makeApiClient(PolicyV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
  }

  static async of(context: Context): Promise<Admin> {
    const kc = new KubeConfig();
    kc.loadFromFile(await kubeconfigPath());
    kc.setCurrentContext(context);
    return new Admin(context, kc);
  }

  /** Server-side apply of any object (idempotent), as the test's own field manager. */
  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.objects.patch(obj, undefined, undefined, 'rekey-tests', true, PatchStrategy.ServerSideApply);
  }

  async createNamespace(name: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name, labels: { 'rekey-test': 'true' } } } });
  }

  async deleteNamespace(name: string): Promise<void> {
    try {
      await this.core.deleteNamespace({ name });
    } catch {
      // already gone
    }
  }

  async deployment(namespace: string, name: string): Promise<V1Deployment> {
    return this.apps.readNamespacedDeployment({ name, namespace });
  }

  async pod(namespace: string, name: string): Promise<V1Pod | undefined> {
    try {
      return await this.core.readNamespacedPod({ name, namespace });
    } catch {
      return undefined;
    }
  }

  async mergePatchDeployment(namespace: string, name: string, body: object): Promise<void> {
    await this.apps.patchNamespacedDeployment({ name, namespace, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }
}

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

/** A pod spec kwok's fake nodes will run: tolerates every taint, mounts (and reads env from) the given Secrets. */
export function podSpec(secrets: { volume?: string; env?: string; envFrom?: string; projected?: string }): V1PodSpec {
  return {
    tolerations: [{ operator: 'Exists' }],
    containers: [
      {
        name: 'app',
        image: 'registry.invalid/fake:1',
        ...(secrets.env && {
          env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: secrets.env, key: 'password', optional: true } } }],
        }),
        ...(secrets.envFrom && { envFrom: [{ secretRef: { name: secrets.envFrom, optional: true } }] }),
        ...((secrets.volume || secrets.projected) && { volumeMounts: [{ name: 'tls', mountPath: '/tls' }] }),
      },
    ],
    ...(secrets.volume && { volumes: [{ name: 'tls', secret: { secretName: secrets.volume, optional: true } }] }),
    ...(secrets.projected && {
      volumes: [{ name: 'tls', projected: { sources: [{ secret: { name: secrets.projected, optional: true } }] } }],
    }),
  };
}

export function deploymentObject(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  spec: V1PodSpec,
  options: { replicas?: number; paused?: boolean } = {},
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas: options.replicas ?? 1,
      ...(options.paused && { paused: true }),
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { ...labels, app: name } }, spec },
    },
  };
}

/** Polls until `check` returns a value (not undefined), or fails with the last observation after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Waits until a Deployment has rolled out (observed, updated, available). */
export async function rolledOut(admin: Admin, namespace: string, name: string, timeoutMs = 120_000): Promise<V1Deployment> {
  return eventually(
    `${admin.context} Deployment ${namespace}/${name} rolled out`,
    async () => {
      const d = await admin.deployment(namespace, name);
      const s = d.status ?? {};
      const want = d.spec?.replicas ?? 1;
      const ok =
        (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        s.updatedReplicas === want &&
        s.availableReplicas === want &&
        (s.replicas ?? 0) === want;
      return ok ? d : undefined;
    },
    timeoutMs,
  );
}

/** A logger that keeps every line, so tests can count `kube request` lines (method, path) per cluster. */
export function recordingLogger(): Logger & {
  lines: { level: string; message: string; fields?: Record<string, unknown> }[];
  requests: (
    filter?: (r: { cluster: string; method: string; path: string }) => boolean,
  ) => { cluster: string; method: string; path: string }[];
} {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, message, ...(fields && { fields }) });
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    requests: (filter = () => true) =>
      lines
        .filter((l) => l.message === 'kube request')
        .map((l) => l.fields as { cluster: string; method: string; path: string })
        .filter(filter),
  };
}

export const isWrite = (r: { method: string }) => r.method !== 'GET';

/** Writes a kubeconfig with one user (client certificate) and contexts dc1/dc2 for the same clusters as the admin's. */
export async function kubeconfigForUser(
  dir: string,
  admin: KubeConfig,
  user: { name: string; certPem: string; keyPem: string },
): Promise<string> {
  const contexts = CONTEXTS.map((c) => admin.getContextObject(c)!);
  const clusters = contexts.map((c) => admin.getCluster(c.cluster)!);
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: clusters.map((c) => ({
      name: c.name,
      cluster: {
        server: c.server,
        ...(c.caData && { 'certificate-authority-data': c.caData }),
        ...(c.caFile && { 'certificate-authority': c.caFile }),
        ...(c.skipTLSVerify && { 'insecure-skip-tls-verify': true }),
      },
    })),
    users: [
      {
        name: user.name,
        user: {
          'client-certificate-data': Buffer.from(user.certPem).toString('base64'),
          'client-key-data': Buffer.from(user.keyPem).toString('base64'),
        },
      },
    ],
    contexts: contexts.map((c) => ({ name: c.name, context: { cluster: c.cluster, user: user.name } })),
    'current-context': 'dc1',
  };
  const path = join(dir, `kubeconfig-${user.name.replace(/[^a-z0-9-]/gi, '_')}.json`);
  await writeFile(path, JSON.stringify(doc), { mode: 0o600 });
  return path;
}
