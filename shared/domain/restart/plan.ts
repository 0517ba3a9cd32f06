import type { WorkloadRef } from './workload.js';
import { consumersIn, type Consumer, type Item, type RestartPolicy } from '../inventory/model.js';
import { versionsHash } from './versions-hash.js';
import { workloadId } from './workload.js';

/** Trust consumers (of an authority's bundle) restart before servers when both change. */
export const RestartPhase = { Trust: 'trust', Serve: 'serve' } as const;
export type RestartPhase = (typeof RestartPhase)[keyof typeof RestartPhase];

/** How long one cluster's rollouts may take when the policy sets no deadline (Deployment's own default). */
export const DEFAULT_ROLLOUT_TIMEOUT_MS = 10 * 60_000;

export type ConsumerTarget =
  | { readonly kind: 'workload'; readonly ref: WorkloadRef }
  | { readonly kind: 'selector'; readonly namespace: string; readonly selector: string };

export interface ItemChange {
  readonly item: Item;
  /** Version id per unit this change brings in (store name -> version id). */
  readonly versions: Readonly<Record<string, string>>;
  /** Clusters where the item's Secret changed; default: every cluster of the item. */
  readonly clusters?: readonly string[];
}

export interface ClusterRestartRequest {
  readonly cluster: string;
  readonly phase: RestartPhase;
  /** Items whose change this request brings to their consumers. */
  readonly items: readonly string[];
  readonly policy: 'rolling' | 'together';
  /** Consumers to restart: named workloads, and selectors resolved in the cluster when the request is made. */
  readonly targets: readonly ConsumerTarget[];
  readonly versionsHash: string;
  /** together/within (or rolling/within): every cluster must be done by then. */
  readonly deadline?: string;
  /** Clusters (same phase) that must have finished first: the rolling order. Empty for together. */
  readonly after: readonly string[];
}

export interface RestartPlan {
  /** In order: trust phase before serve phase, clusters in inventory order. */
  readonly requests: readonly ClusterRestartRequest[];
  /** How many consumers of one request may be mid-rollout at once, when the caller set it (else see `rolloutsInFlight`). */
  readonly budget?: number;
  /** Items that restart nothing, and why. */
  readonly skipped: readonly { readonly item: string; readonly reason: string }[];
}

export const SkipReason = {
  PolicyNone: 'restart policy none',
  NoConsumers: 'no consumers listed',
  NoSecret: 'not written to any cluster',
} as const;

/**
 * Trust consumers hold a CA bundle to check their peers: consumers of an authority's Secret, and clients (a
 * `client` certificate's consumers check the servers they call). Restarting them first means they trust a new CA
 * before servers present certificates from it. Everybody else (servers, clientserver) is in the serve phase.
 */
export function phaseOf(item: Item): RestartPhase {
  if (item.kind === 'authority') return RestartPhase.Trust;
  if (item.kind === 'certificate' && item.usage === 'client') return RestartPhase.Trust;
  return RestartPhase.Serve;
}

/** A consumer as a target in a namespace: `Kind/name` and selectors without one use the item's Secret namespace. */
export function targetOf(consumer: Consumer, namespace: string): ConsumerTarget {
  return consumer.kind === 'workload'
    ? { kind: 'workload', ref: { kind: consumer.workloadKind, namespace, name: consumer.name } }
    : { kind: 'selector', namespace: consumer.namespace ?? namespace, selector: consumer.selector };
}

const targetKey = (t: ConsumerTarget) => (t.kind === 'workload' ? workloadId(t.ref) : `selector:${t.namespace}/${t.selector}`);

interface Group {
  cluster: string;
  phase: RestartPhase;
  items: string[];
  policy: 'rolling' | 'together';
  targets: Map<string, ConsumerTarget>;
  versions: Record<string, string>;
  deadline?: number;
}

/**
 * Pure restart planning. For each cluster where an item's Secret changed, one request per phase: consumers of
 * authorities (trust) first, then everybody else (serve); a workload in both restarts once, with the trust phase.
 * `together` runs clusters in parallel with deadline = syncedAt + within; `rolling` runs them one after another
 * (each request names the cluster before it). `none` restarts nothing.
 */
export function planRestarts(input: {
  readonly changes: readonly ItemChange[];
  readonly syncedAt: Date;
  readonly budget?: number;
}): RestartPlan {
  const skipped: { item: string; reason: string }[] = [];
  const groups = new Map<string, Group>();
  const clusterOrder: string[] = [];

  for (const change of input.changes) {
    const { item } = change;
    const policy = item.restart.policy;
    if (policy === 'none') {
      skipped.push({ item: item.name, reason: SkipReason.PolicyNone });
      continue;
    }
    if (!item.secret) {
      skipped.push({ item: item.name, reason: SkipReason.NoSecret });
      continue;
    }
    if (item.consumers.length === 0) {
      skipped.push({ item: item.name, reason: SkipReason.NoConsumers });
      continue;
    }
    const phase = phaseOf(item);
    const deadline = policyDeadline(item.restart, input.syncedAt)?.getTime();
    const clusters = item.secret.clusters.filter((c) => !change.clusters || change.clusters.includes(c));
    for (const cluster of clusters) {
      // A consumer listed for other clusters is neither restarted nor looked for here.
      const here = consumersIn(item, cluster);
      if (here.length === 0) continue;
      if (!clusterOrder.includes(cluster)) clusterOrder.push(cluster);
      const key = `${phase}/${cluster}`;
      let g = groups.get(key);
      if (!g) {
        g = { cluster, phase, items: [], policy, targets: new Map(), versions: {} };
        groups.set(key, g);
      }
      if (!g.items.includes(item.name)) g.items.push(item.name);
      if (policy === 'together') g.policy = 'together'; // the stricter policy wins when items share a group
      if (deadline !== undefined) g.deadline = Math.min(g.deadline ?? Infinity, deadline);
      Object.assign(g.versions, change.versions);
      for (const consumer of here) {
        const t = targetOf(consumer, item.secret.namespace);
        g.targets.set(targetKey(t), t);
      }
    }
  }

  // A workload both trusts and serves: restart it once, in the trust phase, with both changes in its hash.
  for (const cluster of clusterOrder) {
    const trust = groups.get(`${RestartPhase.Trust}/${cluster}`);
    const serve = groups.get(`${RestartPhase.Serve}/${cluster}`);
    if (!trust || !serve) continue;
    for (const [key, t] of [...serve.targets]) {
      if (t.kind === 'workload' && trust.targets.has(key)) {
        serve.targets.delete(key);
        Object.assign(trust.versions, serve.versions);
      }
    }
    if (serve.targets.size === 0) groups.delete(`${RestartPhase.Serve}/${cluster}`);
  }

  const requests: ClusterRestartRequest[] = [];
  for (const phase of [RestartPhase.Trust, RestartPhase.Serve]) {
    const before: string[] = [];
    for (const cluster of clusterOrder) {
      const g = groups.get(`${phase}/${cluster}`);
      if (!g) continue;
      requests.push({
        cluster,
        phase,
        items: g.items,
        policy: g.policy,
        targets: [...g.targets.values()],
        versionsHash: versionsHash(g.versions),
        ...(g.deadline !== undefined && { deadline: new Date(g.deadline).toISOString() }),
        after: g.policy === 'rolling' ? [...before] : [],
      });
      before.push(cluster);
    }
  }
  return { requests, ...(input.budget !== undefined && { budget: Math.max(1, input.budget) }), skipped };
}

/** The one place a restart deadline comes from: `within` of the item's policy, counted from when its Secrets were written. */
export function policyDeadline(restart: RestartPolicy, syncedAt: Date): Date | undefined {
  return restart.withinMs !== undefined ? new Date(syncedAt.getTime() + restart.withinMs) : undefined;
}

/** When a cluster's restarts must be finished: the policy's deadline if it has one, else `startedAt` + timeout. */
export function restartDeadline(deadline: string | undefined, startedAt: Date, timeoutMs: number = DEFAULT_ROLLOUT_TIMEOUT_MS): Date {
  return deadline ? new Date(deadline) : new Date(startedAt.getTime() + timeoutMs);
}

/**
 * One request per cluster, for restarts recorded per cluster (an authority rotation restarting the consumers of many
 * items at once): targets united, the trust phase (everyone there consumes the CA bundle), `together` if any item
 * asks for it, the earliest deadline, and `rolling` clusters one after another again. `item` names the merged
 * request (the rotation's item).
 */
export function mergeByCluster(plan: RestartPlan, item: string): RestartPlan {
  const byCluster = new Map<string, ClusterRestartRequest>();
  for (const r of plan.requests) {
    const seen = byCluster.get(r.cluster);
    if (!seen) {
      byCluster.set(r.cluster, { ...r, phase: RestartPhase.Trust, items: [item] });
      continue;
    }
    const targets = new Map([...seen.targets, ...r.targets].map((t) => [targetKey(t), t]));
    const deadline = [seen.deadline, r.deadline].filter((d): d is string => d !== undefined).sort()[0];
    byCluster.set(r.cluster, {
      ...seen,
      policy: seen.policy === 'together' || r.policy === 'together' ? 'together' : 'rolling',
      targets: [...targets.values()],
      versionsHash: versionsHash({ a: seen.versionsHash, b: r.versionsHash }),
      ...(deadline !== undefined && { deadline }),
    });
  }
  const before: string[] = [];
  const requests = [...byCluster.values()].map((r) => {
    const after = r.policy === 'rolling' ? [...before] : [];
    before.push(r.cluster);
    return { ...r, after };
  });
  return { ...plan, requests };
}
