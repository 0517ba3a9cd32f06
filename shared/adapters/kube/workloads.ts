import type { V1LabelSelector, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { nextOnDeleteStep, OnDeleteAction } from '../../domain/restart/on-delete.js';
import { ConflictError, NotFoundError, RekeyError } from '../../domain/errors.js';
import {
  RestartOutcome,
  type RolloutReading,
  type RolloutStatus,
  type SecretUse,
  type WorkloadControl,
  type WorkloadRef,
} from '../../ports/cluster.js';
import type { KubeClient } from './client.js';
import { CONTROLLER_KINDS, CONTROLLERS, isControllerKind, type ControllerKind, type ControllerObject } from './controllers.js';
import { call, RejectedError, translateKubeError, type Operation } from './errors.js';
import { RestartAnnotation, restartPatch, templateVersions } from './restart-patch.js';
import { podRollout, type RolloutJudgement } from './rollout.js';
import { secretReferences } from './secret-uses.js';
import { matches, parseSelector } from './selector.js';
import { NextCallSharing } from './next-call-sharing.js';
import { defined } from '../../domain/defined.js';
import { workloadId } from '../../domain/restart/workload.js';

/** A rollout that cannot complete by waiting (progress deadline exceeded, OnDelete strategy). */
export class RolloutFailedError extends RekeyError {}

const controllerOf = (owners: readonly V1OwnerReference[] | undefined) => owners?.find((o) => o.controller);
const byRef = (a: WorkloadRef, b: WorkloadRef) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name);

/** Restarts, rollout status and pod scans in one cluster. */
export class KubeWorkloadControl implements WorkloadControl {
  constructor(private readonly client: KubeClient) {}

  private op(verb: Operation['verb'], resource: string, namespace?: string, name?: string): Operation {
    return {
      cluster: this.client.cluster,
      verb,
      resource,
      ...(namespace !== undefined && { namespace }),
      ...(name !== undefined && { name }),
    };
  }

  private readController(kind: ControllerKind, namespace: string, name: string): Promise<ControllerObject> {
    const a = CONTROLLERS[kind];
    return call(this.op('get', a.resource, namespace, name), () => a.read(this.client, namespace, name));
  }

  private listControllers(kind: ControllerKind, namespace: string): Promise<ControllerObject[]> {
    const a = CONTROLLERS[kind];
    return call(this.op('list', a.resource, namespace), () => a.list(this.client, namespace));
  }

  private listPods(namespace: string, labelSelector?: string): Promise<V1Pod[]> {
    return call(
      this.op('list', 'pods', namespace),
      async () => (await this.client.core.listNamespacedPod({ namespace, ...(labelSelector && { labelSelector }) })).items,
    );
  }

  async selectWorkloads(namespace: string, selector: string): Promise<WorkloadRef[]> {
    const requirements = parseSelector(selector);
    const [controllers, pods] = await Promise.all([
      Promise.all(CONTROLLER_KINDS.map(async (kind) => ({ kind, items: await this.listControllers(kind, namespace) }))),
      this.listPods(namespace, selector),
    ]);
    const found: WorkloadRef[] = [];
    for (const { kind, items } of controllers) {
      for (const o of items) {
        if (matches(requirements, o.spec?.template?.metadata?.labels) || matches(requirements, o.metadata?.labels))
          found.push({ kind, namespace, name: defined(defined(o.metadata).name) });
      }
    }
    for (const p of pods)
      if (!controllerOf(p.metadata?.ownerReferences) && !p.metadata?.deletionTimestamp)
        found.push({ kind: 'Pod', namespace, name: defined(defined(p.metadata).name) });
    return found.sort(byRef);
  }

  async restart(ref: WorkloadRef, versionsHash: string, at: Date): Promise<RestartOutcome> {
    if (!isControllerKind(ref.kind)) return this.evict(ref, at);
    const adapter = CONTROLLERS[ref.kind];
    // Two tries: a 409 means someone changed the object between our read and patch; re-read and decide again.
    for (let attempt = 0; ; attempt++) {
      const current = await this.readController(ref.kind, ref.namespace, ref.name);
      if (templateVersions(current) === versionsHash) return RestartOutcome.NotUpdated;
      // OnDelete (StatefulSet, DaemonSet): the patched template replaces no pod; rolloutStatus then evicts the pods
      // one at a time (see app/restart/on-delete.ts).
      try {
        await call(this.op('patch', adapter.resource, ref.namespace, ref.name), () =>
          adapter.patch(this.client, ref.namespace, ref.name, restartPatch(current, versionsHash, at)),
        );
        return RestartOutcome.Updated;
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= 2) throw e;
      }
    }
  }

  /**
   * A bare pod is evicted (policy/v1 Eviction), so PodDisruptionBudgets are honoured: the API answers 429 when the
   * eviction would violate one, which surfaces as EvictionBlockedError (retry later). rekey never deletes a pod.
   * Already gone, terminating, or created after `at`: the pod already sees the new Secret (NotUpdated).
   */
  private async evict(ref: WorkloadRef, at: Date): Promise<RestartOutcome> {
    let pod: V1Pod;
    try {
      pod = await call(this.op('get', 'pods', ref.namespace, ref.name), () =>
        this.client.core.readNamespacedPod({ name: ref.name, namespace: ref.namespace }),
      );
    } catch (e) {
      if (e instanceof NotFoundError) return RestartOutcome.NotUpdated;
      throw e;
    }
    const created = pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).getTime() : 0;
    if (pod.metadata?.deletionTimestamp || created >= at.getTime()) return RestartOutcome.NotUpdated;
    return this.evictPod(ref, pod);
  }

  /** The Eviction of one pod (by uid): 429 when a PodDisruptionBudget forbids it now (EvictionBlockedError, retryable). */
  private async evictPod(ref: WorkloadRef, pod: V1Pod): Promise<RestartOutcome> {
    try {
      await call(this.op('evict', 'pods/eviction', ref.namespace, ref.name), () =>
        this.client.core.createNamespacedPodEviction({
          name: ref.name,
          namespace: ref.namespace,
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name: ref.name, namespace: ref.namespace },
            // Only this pod: if it was replaced meanwhile, the new one already has the new Secret.
            ...(pod.metadata?.uid && { deleteOptions: { preconditions: { uid: pod.metadata.uid } } }),
          },
        }),
      );
    } catch (e) {
      if (e instanceof NotFoundError) return RestartOutcome.NotUpdated;
      if (e instanceof ConflictError) return RestartOutcome.NotUpdated; // uid precondition failed: a new pod
      throw e;
    }
    return RestartOutcome.Updated;
  }

  /**
   * One move of an OnDelete restart: evict the next pod still on the old template once all are back and ready.
   * Each poll of the rollout makes at most one move, so pods go one at a time and readiness gates the next.
   */
  private async onDeleteRollout(ref: WorkloadRef, o: ControllerObject): Promise<RolloutJudgement> {
    const want = templateVersions(o);
    if (!want) return { done: true, message: 'OnDelete: never restarted by rekey' };
    const status = (o.status ?? {}) as { observedGeneration?: number; desiredNumberScheduled?: number };
    if ((o.metadata?.generation ?? 0) > (status.observedGeneration ?? 0))
      return { done: false, message: 'OnDelete: waiting for the controller to observe the new template' };
    const spec = o.spec as { selector?: V1LabelSelector; replicas?: number };
    const labelSelector = Object.entries(spec.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const owned = (await this.listPods(ref.namespace, labelSelector)).filter(
      (p) => controllerOf(p.metadata?.ownerReferences)?.uid === o.metadata?.uid,
    );
    const desired = ref.kind === 'DaemonSet' ? (status.desiredNumberScheduled ?? 0) : (spec.replicas ?? 1);
    const step = nextOnDeleteStep(
      owned.map((p) => ({
        name: defined(defined(p.metadata).name),
        ...(p.metadata?.annotations?.[RestartAnnotation.Versions] && { versionsHash: p.metadata.annotations[RestartAnnotation.Versions] }),
        ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        terminating: Boolean(p.metadata?.deletionTimestamp),
      })),
      want,
      desired,
    );
    switch (step.action) {
      case OnDeleteAction.Done:
        return { done: true, message: step.message };
      case OnDeleteAction.Wait:
        return { done: false, message: step.message };
      case OnDeleteAction.Evict: {
        const pod = defined(owned.find((p) => p.metadata?.name === step.pod));
        await this.evictPod({ kind: 'Pod', namespace: ref.namespace, name: step.pod }, pod);
        return { done: false, message: step.message };
      }
      default: {
        const never: never = step;
        throw new Error(`unknown OnDelete step ${JSON.stringify(never)}`);
      }
    }
  }

  async rolloutStatus(ref: WorkloadRef): Promise<RolloutStatus> {
    if (isControllerKind(ref.kind))
      return this.statusOf(ref, await this.controllerJudgement(ref, await this.readController(ref.kind, ref.namespace, ref.name)));
    let pod: V1Pod | undefined;
    try {
      pod = await call(this.op('get', 'pods', ref.namespace, ref.name), () =>
        this.client.core.readNamespacedPod({ name: ref.name, namespace: ref.namespace }),
      );
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    return this.statusOf(ref, podRollout(pod));
  }

  /** Lists of rollout readers that ask at once (one restart worker per consumer, as apply starts them) are shared. */
  private readonly rolloutLists = new NextCallSharing<Array<ControllerObject | V1Pod>>();

  /**
   * Many rollouts with one list per namespace and kind (controllers) or per namespace (bare pods): what a restart of
   * 1,000 consumers reads each tick, instead of 1,000 reads; concurrent callers share the next list. A list that
   * fails gives its error to each of its refs.
   */
  async rolloutStatuses(refs: readonly WorkloadRef[]): Promise<ReadonlyMap<string, RolloutReading>> {
    const groups = new Map<string, WorkloadRef[]>();
    for (const ref of refs) {
      const key = `${ref.kind}\0${ref.namespace}`;
      groups.set(key, [...(groups.get(key) ?? []), ref]);
    }
    const readings = new Map<string, RolloutReading>();
    const read = async (ref: WorkloadRef, judge: () => Promise<RolloutStatus>) => {
      try {
        readings.set(workloadId(ref), { status: await judge() });
      } catch (error) {
        readings.set(workloadId(ref), { error });
      }
    };
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const { kind, namespace } = defined(group[0]);
        let listed: Map<string, ControllerObject | V1Pod>;
        try {
          const items = await this.rolloutLists.run(`${kind}\0${namespace}`, () =>
            isControllerKind(kind) ? this.listControllers(kind, namespace) : this.listPods(namespace),
          );
          listed = new Map(items.map((o) => [defined(defined(o.metadata).name), o]));
        } catch (error) {
          for (const ref of group) readings.set(workloadId(ref), { error });
          return;
        }
        for (const ref of group) {
          const o = listed.get(ref.name);
          await read(ref, async () => {
            if (!isControllerKind(ref.kind)) return this.statusOf(ref, podRollout(o));
            if (!o) throw new NotFoundError(`${ref.kind} ${ref.namespace}/${ref.name} not found on cluster ${this.client.cluster}`);
            return this.statusOf(ref, await this.controllerJudgement(ref, o as ControllerObject));
          });
        }
      }),
    );
    return readings;
  }

  /** OnDelete StatefulSets and DaemonSets are rolled by rekey (one eviction per reading); the rest by their controller. */
  private controllerJudgement(ref: WorkloadRef, o: ControllerObject): Promise<RolloutJudgement> | RolloutJudgement {
    if (ref.kind !== 'Deployment' && o.spec?.updateStrategy?.type === 'OnDelete') return this.onDeleteRollout(ref, o);
    return CONTROLLERS[ref.kind as ControllerKind].judge(o);
  }

  private statusOf(ref: WorkloadRef, judgement: RolloutJudgement): RolloutStatus {
    if (judgement.failed) {
      throw new RolloutFailedError(`${ref.kind} ${ref.namespace}/${ref.name} on cluster ${this.client.cluster}: ${judgement.message}`, {
        context: { cluster: this.client.cluster, workload: `${ref.kind}/${ref.namespace}/${ref.name}` },
      });
    }
    return { done: judgement.done, message: judgement.message };
  }

  async findSecretUses(namespace: string): Promise<SecretUse[]> {
    const [pods, replicaSets, ...controllers] = await Promise.all([
      this.listPods(namespace),
      call(this.op('list', 'replicasets', namespace), async () => (await this.client.apps.listNamespacedReplicaSet({ namespace })).items),
      ...CONTROLLER_KINDS.map(async (kind) => ({ kind, items: await this.listControllers(kind, namespace) })),
    ]);
    const uses = new Map<string, SecretUse>();
    const add = (workload: WorkloadRef, spec: Parameters<typeof secretReferences>[0]) => {
      for (const r of secretReferences(spec))
        uses.set(`${r.secret}\0${r.via}\0${workload.kind}\0${workload.name}`, { ...r, namespace, workload });
    };
    // Templates: what every future pod of the controller reads (also when scaled to zero).
    for (const c of controllers as { kind: ControllerKind; items: ControllerObject[] }[]) {
      for (const o of c.items) add({ kind: c.kind, namespace, name: defined(defined(o.metadata).name) }, o.spec?.template?.spec);
    }
    // Running pods: bare ones, and pods whose owner chain ends outside the three controller kinds.
    const rsOwner = new Map(replicaSets.map((rs) => [defined(defined(rs.metadata).name), controllerOf(rs.metadata?.ownerReferences)]));
    for (const p of pods) {
      const owner = controllerOf(p.metadata?.ownerReferences);
      let workload: WorkloadRef = { kind: 'Pod', namespace, name: defined(defined(p.metadata).name) };
      if (owner?.kind === 'ReplicaSet') {
        const deployment = rsOwner.get(owner.name);
        if (deployment?.kind === 'Deployment') workload = { kind: 'Deployment', namespace, name: deployment.name };
      } else if (owner?.kind === 'StatefulSet' || owner?.kind === 'DaemonSet') {
        workload = { kind: owner.kind, namespace, name: owner.name };
      }
      add(workload, p.spec);
    }
    return [...uses.values()].sort(
      (a, b) => a.secret.localeCompare(b.secret) || byRef(a.workload, b.workload) || a.via.localeCompare(b.via),
    );
  }

  async mergePatch(
    object: { apiVersion: string; kind: string; namespace?: string; name: string },
    patch: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const meta = (patch.metadata ?? {}) as Record<string, unknown>;
    const body = {
      ...patch,
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { ...meta, name: object.name, ...(object.namespace && { namespace: object.namespace }) },
    };
    const op = this.op('patch', `${object.kind} (${object.apiVersion})`, object.namespace, object.name);
    try {
      await this.client.objects.mergePatchRaw(
        {
          apiVersion: object.apiVersion,
          kind: object.kind,
          metadata: { name: object.name, ...(object.namespace && { namespace: object.namespace }) },
        },
        body,
        'rekey',
      );
    } catch (e) {
      // KubernetesObjectApi's discovery throws a plain Error when the kind is not served (CRD not installed).
      if (e instanceof Error && !('code' in e) && /Unrecognized API version and kind/i.test(e.message)) {
        throw new NotFoundError(
          `${object.kind} (${object.apiVersion}) is not served by cluster ${this.client.cluster}: is its CRD installed?`,
          { cause: e, context: { cluster: this.client.cluster } },
        );
      }
      throw translateKubeError(e, op);
    }
  }
}

export { RejectedError };
