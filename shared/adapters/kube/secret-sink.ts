import { PatchStrategy } from '@kubernetes/client-node';
import { ConflictError, NotFoundError, RekeyError, UnmanagedObjectError } from '../../domain/errors.js';
import { WriteOutcome, type DesiredSecret, type ObservedSecret, type SecretSink } from '../../ports/cluster.js';
import type { KubeClient } from './client.js';
import { call, RejectedError, type Operation } from './errors.js';
import { isManaged, observedOf, secretChange, secretObjectOf, type SecretObject } from './secret-patch.js';

export const FIELD_MANAGER = 'rekey';

const secretsPath = (namespace: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

/**
 * Secrets in one cluster, through the client's plain JSON requests (a sync writes thousands). Creates with POST (fails if the Secret appeared meanwhile), updates with a JSON merge
 * patch that carries the observed resourceVersion (a concurrent change is a 409, never a lost update) and sets
 * exactly the desired data while keeping others' labels and annotations. Unchanged content sends nothing.
 */
export class KubeSecretSink implements SecretSink {
  constructor(private readonly client: KubeClient) {}

  private op(verb: Operation['verb'], namespace: string, name?: string): Operation {
    return { cluster: this.client.cluster, verb, resource: 'secrets', namespace, ...(name !== undefined && { name }) };
  }

  async listSecrets(namespace: string): Promise<ObservedSecret[]> {
    const list = (await call(this.op('list', namespace), () => this.client.json('GET', secretsPath(namespace)))) as {
      items: SecretObject[];
    };
    return list.items.map((s) => observedOf(s));
  }

  async getSecret(namespace: string, name: string): Promise<ObservedSecret | undefined> {
    try {
      return observedOf(
        (await call(this.op('get', namespace, name), () => this.client.json('GET', secretsPath(namespace, name)))) as SecretObject,
      );
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  async writeSecret(secret: DesiredSecret, options: { adopt: boolean; expected?: ObservedSecret }): Promise<WriteOutcome> {
    const { expected, adopt } = options;
    return expected ? this.update(secret, expected, adopt) : this.create(secret, adopt);
  }

  private unmanaged(secret: { namespace: string; name: string }): UnmanagedObjectError {
    const { cluster } = this.client;
    return new UnmanagedObjectError(
      `Secret ${secret.namespace}/${secret.name} on cluster ${cluster} exists and is not managed by rekey (no label app.kubernetes.io/managed-by=rekey): left untouched; set adopt: true on the item to take it over`,
      { context: { cluster, namespace: secret.namespace, name: secret.name } },
    );
  }

  private async create(secret: DesiredSecret, adopt: boolean): Promise<WriteOutcome> {
    const { cluster } = this.client;
    const where = { cluster, namespace: secret.namespace, name: secret.name };
    try {
      await call(this.op('create', secret.namespace, secret.name), () =>
        this.client.json('POST', secretsPath(secret.namespace), { body: secretObjectOf(secret), query: { fieldManager: FIELD_MANAGER } }),
      );
      return WriteOutcome.Created;
    } catch (e) {
      if (e instanceof NotFoundError) {
        throw new RekeyError(`namespace ${secret.namespace} does not exist on cluster ${cluster}: creating namespaces is not rekey's job`, {
          cause: e,
          context: where,
        });
      }
      if (e instanceof ConflictError) {
        // It appeared after the caller looked. Say whose it is; never overwrite it blind.
        const now = await this.getSecret(secret.namespace, secret.name);
        if (now && !isManaged(now) && !adopt) throw this.unmanaged(secret);
        throw new ConflictError(
          `Secret ${secret.namespace}/${secret.name} on cluster ${cluster} appeared after it was listed; sync again`,
          where,
        );
      }
      throw e;
    }
  }

  private async update(secret: DesiredSecret, expected: ObservedSecret, adopt: boolean): Promise<WriteOutcome> {
    const { cluster } = this.client;
    const where = { cluster, namespace: secret.namespace, name: secret.name };
    if (!isManaged(expected) && !adopt) throw this.unmanaged(secret);
    const change = secretChange(secret, expected);
    switch (change.kind) {
      case 'none':
        return WriteOutcome.Unchanged;
      case 'type':
        throw new RejectedError(
          `Secret ${secret.namespace}/${secret.name} on cluster ${cluster} has type ${change.from}, rekey writes ${change.to}, and a Secret's type cannot change: delete it (rekey will create it) or rename the item's secret`,
          { context: where },
        );
      case 'patch':
        try {
          await call(this.op('patch', secret.namespace, secret.name), () =>
            this.client.json('PATCH', secretsPath(secret.namespace, secret.name), {
              body: change.patch,
              contentType: PatchStrategy.MergePatch,
              query: { fieldManager: FIELD_MANAGER },
            }),
          );
        } catch (e) {
          if (e instanceof NotFoundError)
            throw new ConflictError(
              `Secret ${secret.namespace}/${secret.name} on cluster ${cluster} was deleted after it was listed; sync again`,
              where,
            );
          throw e;
        }
        return WriteOutcome.Updated;
      default: {
        const never: never = change;
        throw new Error(`unknown change ${JSON.stringify(never)}`);
      }
    }
  }
}
