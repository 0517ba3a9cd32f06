import { KubeConfig } from '@kubernetes/client-node';
import { RekeyError, UsageError } from '../../domain/errors.js';
import { DEFAULT_CLUSTER, type ClusterRef } from '../../domain/inventory/model.js';
import type { Cluster } from '../../ports/cluster.js';
import type { Logger } from '../../ports/logger.js';
import { makeClient } from './client.js';
import { KubeSecretSink } from './secret-sink.js';
import { KubeWorkloadControl } from './workloads.js';
import { KubeRotationRequests } from './rotation-requests.js';

export interface ConnectOptions {
  /** Path of a kubeconfig; default: KUBECONFIG, then ~/.kube/config (then in-cluster). */
  readonly kubeconfig?: string;
  /** A kubeconfig's text (Lambda: kept in Secrets Manager). Wins over `kubeconfig`. */
  readonly kubeconfigYaml?: string;
  /** Bearer tokens per inventory cluster (EKS); replaces the kubeconfig users' credentials. */
  readonly tokenProvider?: (clusterName: string) => Promise<string>;
  readonly log: Logger;
  /** Per-request timeout (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Connections kept open per cluster (default 32). */
  readonly maxSockets?: number;
}

const KNOWN_OPTIONS = new Set(['kubeconfig', 'kubeconfigYaml', 'tokenProvider', 'log', 'requestTimeoutMs', 'maxSockets']);

function loadKubeConfig(options: ConnectOptions): { kc: KubeConfig; source: string } {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfigYaml !== undefined) {
      kc.loadFromString(options.kubeconfigYaml);
      return { kc, source: 'the kubeconfig given as text' };
    }
    if (options.kubeconfig) {
      kc.loadFromFile(options.kubeconfig);
      return { kc, source: options.kubeconfig };
    }
    kc.loadFromDefault();
    return { kc, source: process.env.KUBECONFIG ? `KUBECONFIG (${process.env.KUBECONFIG})` : 'the default kubeconfig' };
  } catch (e) {
    throw new UsageError(`cannot read kubeconfig ${options.kubeconfig ?? ''}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * One client per inventory cluster, each on the kubeconfig context the inventory names (`clusters[].context`).
 * An inventory without clusters (one cluster "default") uses the current context. Nothing is sent yet: a missing context, or one naming a missing cluster or user, is a UsageError here; an
 * unreachable server shows up on the first request as a TransientError naming the cluster.
 */
export async function connectClusters(refs: readonly ClusterRef[], options: ConnectOptions): Promise<Map<string, Cluster>> {
  const unknown = Object.keys(options).filter((k) => !KNOWN_OPTIONS.has(k));
  if (unknown.length) throw new RekeyError(`connectClusters: unknown option(s) ${unknown.join(', ')}`);
  const { kc, source } = loadKubeConfig(options);
  const contexts = kc.getContexts().map((c) => c.name);
  const clusters = new Map<string, Cluster>();
  for (const given of refs) {
    // An inventory without `clusters` has one cluster "default": it means the kubeconfig's current context.
    const implicit =
      given.name === DEFAULT_CLUSTER &&
      given.context === DEFAULT_CLUSTER &&
      !kc.getContextObject(DEFAULT_CLUSTER) &&
      kc.getCurrentContext();
    const ref = implicit ? { name: given.name, context: kc.getCurrentContext() } : given;
    const context = kc.getContextObject(ref.context);
    if (!context) {
      throw new UsageError(
        `cluster "${ref.name}": context "${ref.context}" is not in ${source} (contexts there: ${contexts.join(', ') || 'none'})`,
        { context: { cluster: ref.name } },
      );
    }
    if (!kc.getCluster(context.cluster))
      throw new UsageError(
        `cluster "${ref.name}": context "${ref.context}" names cluster "${context.cluster}", which ${source} does not define`,
        { context: { cluster: ref.name } },
      );
    if (!options.tokenProvider && !kc.getUser(context.user))
      throw new UsageError(
        `cluster "${ref.name}": context "${ref.context}" names user "${context.user}", which ${source} does not define`,
        { context: { cluster: ref.name } },
      );
    const own = new KubeConfig();
    own.loadFromOptions({ clusters: kc.getClusters(), users: kc.getUsers(), contexts: kc.getContexts(), currentContext: ref.context });
    const client = makeClient({
      cluster: ref.name,
      context: ref.context,
      kubeConfig: own,
      ...(options.tokenProvider && { tokenProvider: options.tokenProvider }),
      log: options.log,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      maxSockets: options.maxSockets ?? 32,
    });
    clusters.set(ref.name, {
      name: ref.name,
      secrets: new KubeSecretSink(client),
      workloads: new KubeWorkloadControl(client),
      rotationRequests: new KubeRotationRequests(client),
    });
  }
  return clusters;
}

export { KubeSecretSink, FIELD_MANAGER } from './secret-sink.js';
export { KubeWorkloadControl, RolloutFailedError } from './workloads.js';
export { ForbiddenError, EvictionBlockedError, RejectedError, translateKubeError } from './errors.js';
export { RestartAnnotation } from './restart-patch.js';
export { KubeRotationRequests } from './rotation-requests.js';
