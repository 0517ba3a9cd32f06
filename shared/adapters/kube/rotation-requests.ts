import { NotFoundError } from '../../domain/errors.js';
import {
  ROTATION_REQUEST,
  ROTATION_REQUEST_API_VERSION,
  type RequestStatus,
  type RotationRequest,
} from '../../domain/requests/rotation-request.js';
import type { RotationRequestControl } from '../../ports/cluster.js';
import type { KubeClient } from './client.js';
import { translateKubeError, type Operation } from './errors.js';

interface RequestObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly generation?: number;
    readonly resourceVersion?: string;
  };
  readonly spec?: { readonly item?: unknown; readonly inventory?: unknown; readonly reason?: unknown };
  readonly status?: RequestStatus;
}

const RESOURCE = `${ROTATION_REQUEST.plural}.${ROTATION_REQUEST.group}`;
const base = (namespace: string) =>
  `/apis/${ROTATION_REQUEST.group}/${ROTATION_REQUEST.version}/namespaces/${encodeURIComponent(namespace)}/${ROTATION_REQUEST.plural}`;
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/**
 * RotationRequests through their own paths (no discovery: the CRD is rekey's). A namespace without the CRD
 * installed answers 404, which reads as "no requests". Status is written with PUT on the status subresource,
 * carrying the resourceVersion read, so RBAC needs only `update` on `rotationrequests/status`.
 */
export class KubeRotationRequests implements RotationRequestControl {
  constructor(private readonly client: KubeClient) {}

  private op(verb: Operation['verb'], namespace: string, name?: string, resource = RESOURCE): Operation {
    return { cluster: this.client.cluster, verb, resource, namespace, ...(name && { name }) };
  }

  async list(namespace: string): Promise<RotationRequest[]> {
    let body: unknown;
    try {
      body = await this.client.objects.requestJson(base(namespace), 'GET');
    } catch (e) {
      const error = translateKubeError(e, this.op('list', namespace));
      if (error instanceof NotFoundError) return [];
      throw error;
    }
    const items = (body as { items?: RequestObject[] } | undefined)?.items ?? [];
    return items.flatMap((o) => {
      const r = this.fromObject(o);
      return r ? [r] : [];
    });
  }

  async get(namespace: string, name: string): Promise<RotationRequest | undefined> {
    let body: unknown;
    try {
      body = await this.client.objects.requestJson(`${base(namespace)}/${encodeURIComponent(name)}`, 'GET');
    } catch (e) {
      const error = translateKubeError(e, this.op('get', namespace, name));
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
    return this.fromObject(body as RequestObject);
  }

  async writeStatus(request: RotationRequest, status: RequestStatus): Promise<RotationRequest> {
    const body = {
      apiVersion: ROTATION_REQUEST_API_VERSION,
      kind: ROTATION_REQUEST.kind,
      metadata: {
        name: request.name,
        namespace: request.namespace,
        uid: request.uid,
        ...(request.resourceVersion && { resourceVersion: request.resourceVersion }),
      },
      spec: {
        item: request.item,
        ...(request.inventory && { inventory: request.inventory }),
        ...(request.reason && { reason: request.reason }),
      },
      status,
    };
    let written: unknown;
    try {
      written = await this.client.objects.requestJson(`${base(request.namespace)}/${encodeURIComponent(request.name)}/status`, 'PUT', body);
    } catch (e) {
      throw translateKubeError(e, this.op('update', request.namespace, request.name, `${RESOURCE}/status`));
    }
    return this.fromObject(written as RequestObject) ?? { ...request, status };
  }

  private fromObject(o: RequestObject): RotationRequest | undefined {
    const m = o.metadata;
    const item = text(o.spec?.item);
    if (!m?.name || !m.namespace || !m.uid || !item) return undefined;
    const inventory = text(o.spec?.inventory);
    const reason = text(o.spec?.reason);
    return {
      cluster: this.client.cluster,
      namespace: m.namespace,
      name: m.name,
      uid: m.uid,
      item,
      ...(m.generation !== undefined && { generation: m.generation }),
      ...(m.resourceVersion && { resourceVersion: m.resourceVersion }),
      ...(inventory && { inventory }),
      ...(reason && { reason }),
      ...(o.status && { status: { ...o.status, conditions: o.status.conditions } }),
    };
  }
}
