/**
 * One Kubernetes cluster, simulated: Secrets and Deployments in memory behind the Cluster port, every API request
 * held to the cluster's client rate (a token bucket: requests wait for a token, like client-go's limiter; rekey's
 * own kube client has none, so this stands for the share of the API server a tenant gets) plus a latency, and a
 * rollout time per restarted Deployment (its pods replaced and ready).
 */
import { ConflictError, NotFoundError, UnmanagedObjectError } from '../../../shared/domain/errors.js';
import { isManaged } from '../../../shared/domain/sync/secret.js';
import {
  RestartOutcome,
  WriteOutcome,
  type Cluster,
  type DesiredSecret,
  type ObservedSecret,
  type RolloutStatus,
  type SecretUse,
  type WorkloadControl,
  type WorkloadRef,
} from '../../../shared/ports/cluster.js';
import { TokenBucket } from './token-bucket.js';
import type { VirtualTime } from './virtual-time.js';

export interface ClusterOptions {
  /** Requests per second (and burst) this cluster's clients get. */
  readonly qps?: number;
  readonly burst?: number;
  /** Latency of one API request, ms. */
  readonly requestMs?: number;
  /** Time from a restart to a finished rollout, ms; a spread of ±spreadMs around it, fixed per workload. */
  readonly rolloutMs?: number;
  readonly rolloutSpreadMs?: number;
}

interface Deployment {
  hash?: string;
  restartedAt?: number;
  doneAt?: number;
}

/** A stable number in [0, 1) from a string (so a workload's rollout time does not depend on the run order). */
function unitHash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0) / 2 ** 32;
}

export class SimCluster implements Cluster, WorkloadControl {
  readonly secrets = {
    listSecrets: (namespace: string) => this.listSecrets(namespace),
    getSecret: (namespace: string, name: string) => this.getSecret(namespace, name),
    writeSecret: (secret: DesiredSecret, options: { adopt: boolean; expected?: ObservedSecret }) => this.writeSecret(secret, options),
  };
  readonly workloads: WorkloadControl = this;
  private readonly store = new Map<string, Map<string, ObservedSecret>>();
  private readonly deployments = new Map<string, Deployment>();
  private readonly bucket: TokenBucket;
  private rv = 1;
  requests = 0;
  /** Total time requests waited for the rate limiter, ms. */
  throttledMs = 0;
  /** Restart -> rollout finished, per workload (ms), for the report. */
  readonly rollouts: { id: string; restartedAt: number; doneAt: number }[] = [];

  constructor(
    readonly name: string,
    private readonly time: VirtualTime,
    private readonly options: ClusterOptions = {},
  ) {
    const qps = options.qps ?? 50;
    this.bucket = new TokenBucket(qps, options.burst ?? qps * 2, () => time.ms);
  }

  private async request(): Promise<void> {
    this.requests++;
    const wait = this.bucket.reserve();
    this.throttledMs += wait;
    await this.time.sleep(wait + (this.options.requestMs ?? 10));
  }

  /** A Deployment that exists (the consumers of the simulated certificates). */
  addDeployment(namespace: string, name: string): void {
    this.deployments.set(`Deployment/${namespace}/${name}`, {});
  }

  /** A Secret as it was before the run (not counted). */
  seedSecret(secret: ObservedSecret): void {
    const ns = this.store.get(secret.namespace) ?? new Map<string, ObservedSecret>();
    this.store.set(secret.namespace, ns);
    ns.set(secret.name, { ...secret, resourceVersion: String(this.rv++) });
  }

  async listSecrets(namespace: string): Promise<ObservedSecret[]> {
    await this.request();
    return [...(this.store.get(namespace)?.values() ?? [])];
  }

  async getSecret(namespace: string, name: string): Promise<ObservedSecret | undefined> {
    await this.request();
    return this.store.get(namespace)?.get(name);
  }

  async writeSecret(secret: DesiredSecret, options: { adopt: boolean; expected?: ObservedSecret }): Promise<WriteOutcome> {
    await this.request();
    const ns = this.store.get(secret.namespace) ?? new Map<string, ObservedSecret>();
    this.store.set(secret.namespace, ns);
    const seen = ns.get(secret.name);
    if (seen && !isManaged(seen) && !options.adopt)
      throw new UnmanagedObjectError(`Secret ${secret.namespace}/${secret.name} is not managed by rekey`);
    if ((options.expected?.resourceVersion ?? undefined) !== (seen?.resourceVersion ?? undefined)) {
      throw new ConflictError(`Secret ${secret.namespace}/${secret.name} changed concurrently`);
    }
    ns.set(secret.name, { ...secret, resourceVersion: String(this.rv++) });
    return seen ? WriteOutcome.Updated : WriteOutcome.Created;
  }

  async selectWorkloads(): Promise<WorkloadRef[]> {
    await this.request();
    return [];
  }

  async restart(ref: WorkloadRef, versionsHash: string): Promise<RestartOutcome> {
    await this.request();
    const id = `${ref.kind}/${ref.namespace}/${ref.name}`;
    const d = this.deployments.get(id);
    if (!d) throw new NotFoundError(`${id} not found`);
    if (d.hash === versionsHash) return RestartOutcome.NotUpdated;
    const base = this.options.rolloutMs ?? 30_000;
    const spread = this.options.rolloutSpreadMs ?? 10_000;
    d.hash = versionsHash;
    d.restartedAt = this.time.ms;
    d.doneAt = this.time.ms + base + (unitHash(id + versionsHash) * 2 - 1) * spread;
    this.rollouts.push({ id, restartedAt: d.restartedAt, doneAt: d.doneAt });
    return RestartOutcome.Updated;
  }

  async rolloutStatus(ref: WorkloadRef): Promise<RolloutStatus> {
    await this.request();
    const id = `${ref.kind}/${ref.namespace}/${ref.name}`;
    const d = this.deployments.get(id);
    if (!d) throw new NotFoundError(`${id} not found`);
    const done = d.doneAt === undefined || this.time.ms >= d.doneAt;
    return { done, message: done ? 'rolled out' : '0 of 1 updated replicas are available' };
  }

  async findSecretUses(): Promise<SecretUse[]> {
    await this.request();
    return [];
  }

  async mergePatch(): Promise<void> {
    await this.request();
  }
}
