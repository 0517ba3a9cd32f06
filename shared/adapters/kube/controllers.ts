import { PatchStrategy, type V1ObjectMeta, type V1PodTemplateSpec } from '@kubernetes/client-node';
import type { WorkloadRef } from '../../ports/cluster.js';
import { contentType, type KubeClient } from './client.js';
import { daemonSetRollout, deploymentRollout, statefulSetRollout, type DeploymentLike, type RolloutJudgement } from './rollout.js';

export type ControllerKind = Exclude<WorkloadRef['kind'], 'Pod'>;

/** What rekey reads of a Deployment, StatefulSet or DaemonSet. */
export interface ControllerObject {
  readonly metadata?: V1ObjectMeta;
  readonly spec?: { readonly template?: V1PodTemplateSpec; readonly updateStrategy?: { readonly type?: string } };
  readonly status?: object;
}

/** One small adapter per workload kind (Reloader's table, without its type switch). */
export interface ControllerAdapter {
  /** The RBAC resource name, for messages. */
  readonly resource: string;
  read(c: KubeClient, namespace: string, name: string): Promise<ControllerObject>;
  list(c: KubeClient, namespace: string): Promise<ControllerObject[]>;
  /** Strategic merge patch. */
  patch(c: KubeClient, namespace: string, name: string, body: object): Promise<void>;
  judge(o: ControllerObject): RolloutJudgement;
}

const strategic = () => contentType(PatchStrategy.StrategicMergePatch);
const FIELD_MANAGER = 'rekey';

export const CONTROLLERS: Readonly<Record<ControllerKind, ControllerAdapter>> = {
  Deployment: {
    resource: 'deployments',
    read: (c, namespace, name) => c.apps.readNamespacedDeployment({ name, namespace }),
    list: async (c, namespace) => (await c.apps.listNamespacedDeployment({ namespace })).items,
    patch: async (c, namespace, name, body) => {
      await c.apps.patchNamespacedDeployment({ name, namespace, body, fieldManager: FIELD_MANAGER }, strategic());
    },
    judge: (o) => deploymentRollout(o as DeploymentLike),
  },
  StatefulSet: {
    resource: 'statefulsets',
    read: (c, namespace, name) => c.apps.readNamespacedStatefulSet({ name, namespace }),
    list: async (c, namespace) => (await c.apps.listNamespacedStatefulSet({ namespace })).items,
    patch: async (c, namespace, name, body) => {
      await c.apps.patchNamespacedStatefulSet({ name, namespace, body, fieldManager: FIELD_MANAGER }, strategic());
    },
    judge: (o) => statefulSetRollout(o),
  },
  DaemonSet: {
    resource: 'daemonsets',
    read: (c, namespace, name) => c.apps.readNamespacedDaemonSet({ name, namespace }),
    list: async (c, namespace) => (await c.apps.listNamespacedDaemonSet({ namespace })).items,
    patch: async (c, namespace, name, body) => {
      await c.apps.patchNamespacedDaemonSet({ name, namespace, body, fieldManager: FIELD_MANAGER }, strategic());
    },
    judge: (o) => daemonSetRollout(o),
  },
};

export const CONTROLLER_KINDS = Object.keys(CONTROLLERS) as ControllerKind[];
export const isControllerKind = (kind: WorkloadRef['kind']): kind is ControllerKind => kind !== 'Pod';
