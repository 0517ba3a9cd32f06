import type { Admin } from './support.js';
import { eventually } from './support.js';

/**
 * Installs a stand-in for kubedb's Postgres CRD (kubedb.com/v1, namespaced) and waits until it is served. Model
 * property names (x_kubernetes_preserve_unknown_fields): client-node's serializer drops the JSON names it maps.
 */
export async function installPostgresCrd(admin: Admin): Promise<void> {
  await admin.apply({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'postgreses.kubedb.com' },
    spec: {
      group: 'kubedb.com',
      scope: 'Namespaced',
      names: { plural: 'postgreses', singular: 'postgres', kind: 'Postgres', listKind: 'PostgresList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } },
          },
        },
      ],
    },
  } as never);
  await eventually(`${admin.context}: Postgres served`, async () => {
    const list = await admin.objects.list('kubedb.com/v1', 'Postgres', 'default');
    return list ? true : undefined;
  });
}

export function postgres(namespace: string, name: string) {
  return {
    apiVersion: 'kubedb.com/v1',
    kind: 'Postgres',
    metadata: { name, namespace, annotations: { 'team/owner': 'db' } },
    spec: { version: '16', replicas: 1 },
  };
}

/** Creates the Postgres object, retrying while the new CRD's schema is still being picked up by the API server. */
export async function createPostgres(admin: Admin, namespace: string, name: string): Promise<void> {
  await eventually(`${admin.context}: Postgres ${namespace}/${name} created`, async () => {
    await admin.objects.create(postgres(namespace, name) as never);
    return true;
  });
}
