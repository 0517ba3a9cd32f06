import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type SecretVersionsListEntry,
} from '@aws-sdk/client-secrets-manager';
import { NotFoundError, RekeyError, RotationLockedError } from '../../domain/errors.js';
import {
  Stage,
  type PutCurrentResult,
  type PutPendingResult,
  type SecretDescription,
  type SecretStore,
  type StoredVersion,
  type VersionInfo,
} from '../../ports/secret-store.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { awsCall, awsErrorName } from './errors.js';
import { defined } from '../../domain/defined.js';

/** Secrets Manager's limits that rekey checks before sending, so the error names the secret and the number. */
export const SecretsManagerLimits = {
  /** SecretString, in bytes (UTF-8). */
  maxSecretBytes: 65_536,
  /** ClientRequestToken (the version id). */
  minVersionIdLength: 32,
  maxVersionIdLength: 64,
  /** Staging labels on one version. */
  maxLabelsPerVersion: 20,
  maxTags: 50,
} as const;

/**
 * rekey's own staging label for the first version of a new secret. Secrets Manager attaches AWSCURRENT to the first
 * version of a secret automatically, even when it is put as AWSPENDING; this label says "AWS did that, rekey has
 * not promoted it". A version carrying it counts as neither current nor previous until `promote` removes it.
 */
export const INITIAL_LABEL = 'REKEY_INITIAL';

const AWS_STAGES: ReadonlySet<string> = new Set(Object.values(Stage));

export interface SecretsManagerStoreOptions extends AwsClientSettings {
  /** The client; default: a new one with adaptive retries (tests pass a mocked one). */
  readonly client?: SecretsManagerClient;
  /** KMS key (id, ARN or alias) for new secrets; default: the account's `aws/secretsmanager` key. */
  readonly kmsKeyId?: string;
}

type RawStages = Readonly<Record<string, readonly string[]>>;

/** The stages rekey reports for a version, from its raw labels (see INITIAL_LABEL). */
export function visibleStages(labels: readonly string[]): Stage[] {
  const initial = labels.includes(INITIAL_LABEL);
  return labels.filter((l): l is Stage => AWS_STAGES.has(l) && !(initial && l !== Stage.Pending));
}

/** AWSCURRENT put there by a promotion (not AWS's automatic label on a first version). */
const isPromoted = (labels: readonly string[]): boolean => labels.includes(Stage.Current) && !labels.includes(INITIAL_LABEL);

function holderOf(raw: RawStages, stage: Stage): string | undefined {
  return Object.entries(raw).find(([, labels]) => labels.includes(stage))?.[0];
}

/**
 * SecretStore on AWS Secrets Manager, with the protocol of AWS's own rotation functions: one secret per unit, each
 * version created with the version id as ClientRequestToken (a retried step makes no second version), labelled
 * AWSPENDING until promoted, promoted by moving AWSCURRENT with UpdateSecretVersionStage (AWS moves AWSPREVIOUS).
 * Reads always name a stage or a version id (moto serves a stale AWSCURRENT to reads that name neither).
 */
export class SecretsManagerStore implements SecretStore {
  readonly client: SecretsManagerClient;
  private readonly kmsKeyId: string | undefined;

  constructor(options: SecretsManagerStoreOptions = {}) {
    this.client = options.client ?? new SecretsManagerClient(clientConfig(options));
    this.kmsKeyId = options.kmsKeyId;
  }

  /** Raw labels of every labelled version, or undefined when the secret does not exist. */
  private async rawStages(name: string): Promise<{ raw: RawStages; tags: Record<string, string>; deleted: boolean } | undefined> {
    try {
      const out = await awsCall({ operation: 'Secrets Manager DescribeSecret', target: name }, () =>
        this.client.send(new DescribeSecretCommand({ SecretId: name })),
      );
      const tags = Object.fromEntries((out.Tags ?? []).flatMap((t) => (t.Key ? [[t.Key, t.Value ?? '']] : [])));
      return { raw: out.VersionIdsToStages ?? {}, tags, deleted: out.DeletedDate !== undefined };
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  async describe(name: string): Promise<SecretDescription | undefined> {
    const described = await this.rawStages(name);
    if (!described) return undefined;
    // DescribeSecret has no creation dates per version; ListSecretVersionIds has them (labelled versions only).
    const created = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await awsCall({ operation: 'Secrets Manager ListSecretVersionIds', target: name }, () =>
        this.client.send(new ListSecretVersionIdsCommand({ SecretId: name, MaxResults: 100, ...(token && { NextToken: token }) })),
      );
      for (const v of page.Versions ?? ([] as SecretVersionsListEntry[]))
        if (v.VersionId) created.set(v.VersionId, v.CreatedDate?.toISOString() ?? '');
      token = page.NextToken || undefined;
    } while (token);
    const versions: VersionInfo[] = Object.entries(described.raw).map(([versionId, labels]) => ({
      versionId,
      stages: visibleStages(labels),
      createdAt: created.get(versionId) ?? '',
    }));
    return { name, versions, tags: described.tags };
  }

  async getVersion(name: string, selector: { stage?: Stage; versionId?: string } = {}): Promise<StoredVersion | undefined> {
    const stage = selector.stage ?? (selector.versionId ? undefined : Stage.Current);
    try {
      const out = await awsCall({ operation: 'Secrets Manager GetSecretValue', target: name }, () =>
        this.client.send(
          new GetSecretValueCommand({
            SecretId: name,
            ...(selector.versionId && { VersionId: selector.versionId }),
            ...(stage && { VersionStage: stage }),
          }),
        ),
      );
      const stages = visibleStages(out.VersionStages ?? []);
      // AWS's automatic AWSCURRENT on a first version that rekey has not promoted is not a current version.
      if (stage && !stages.includes(stage)) return undefined;
      if (out.SecretString === undefined || !out.VersionId) return undefined;
      return { versionId: out.VersionId, stages, createdAt: out.CreatedDate?.toISOString() ?? '', value: out.SecretString };
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  async putPending(
    name: string,
    versionId: string,
    value: string,
    options: { tags?: Record<string, string>; description?: string } = {},
  ): Promise<PutPendingResult> {
    const tags = checkedWrite(name, versionId, value, options.tags);

    let described = await this.rawStages(name);
    if (!described) {
      // Created without a value, like the secrets AWS rotation functions start from: the value comes as a
      // labelled version below, with the version id as its idempotency token.
      await this.create(name, tags, options.description);
      described = { raw: {}, tags: options.tags ?? {}, deleted: false };
    }
    if (described.deleted)
      throw new RekeyError(`${name} is scheduled for deletion in Secrets Manager; restore it (RestoreSecret) or wait until it is gone`, {
        context: { item: name },
      });
    const { raw } = described;
    if (raw[versionId]) return { created: false };
    // Secrets Manager moves AWSPENDING silently when another version holds it: check first, the label is the lock.
    // Except on the current version (rekey's promoted, not a first one): that is a promotion cut short before it
    // removed AWSPENDING, whose rotation ended (as AWS's own rotation treats it); the put below moves the label.
    const pending = holderOf(raw, Stage.Pending);
    const stale = pending !== undefined && isPromoted(raw[pending] ?? []);
    if (pending && !stale) throw new RotationLockedError(name, pending, versionId);
    const first = Object.keys(raw).length === 0;
    await awsCall({ operation: 'Secrets Manager PutSecretValue', target: name, context: { item: name, rotationId: versionId } }, () =>
      this.client.send(
        new PutSecretValueCommand({
          SecretId: name,
          ClientRequestToken: versionId,
          SecretString: value,
          VersionStages: first ? [Stage.Pending, INITIAL_LABEL] : [Stage.Pending],
        }),
      ),
    );
    return { created: true };
  }

  /**
   * One write: PutSecretValue with VersionStages [AWSCURRENT] and the version id as ClientRequestToken (AWS moves
   * AWSPREVIOUS to the version that was current). For a secret that does not exist yet, CreateSecret with the value
   * (its first version is AWSCURRENT). A retry with the same id and another value is refused by AWS with
   * ResourceExistsException: the version exists, nothing is written (`created: false`).
   */
  async putCurrent(
    name: string,
    versionId: string,
    value: string,
    options: { tags?: Record<string, string>; description?: string } = {},
  ): Promise<PutCurrentResult> {
    const tags = checkedWrite(name, versionId, value, options.tags);
    const context = { item: name, rotationId: versionId };
    /** Undefined: the secret does not exist yet (`orMissing`; otherwise that is an error like any other). */
    const putCurrent = async (orMissing: boolean): Promise<PutCurrentResult | undefined> => {
      try {
        await awsCall({ operation: 'Secrets Manager PutSecretValue', target: name, context }, () =>
          this.client.send(
            new PutSecretValueCommand({
              SecretId: name,
              ClientRequestToken: versionId,
              SecretString: value,
              VersionStages: [Stage.Current],
            }),
          ),
        );
        return { created: true };
      } catch (e) {
        if (isExists(e)) return { created: false };
        if (orMissing && e instanceof NotFoundError) return undefined;
        throw e;
      }
    };
    const put = await putCurrent(true);
    if (put) return put;
    try {
      await awsCall({ operation: 'Secrets Manager CreateSecret', target: name, context }, () =>
        this.client.send(
          new CreateSecretCommand({
            Name: name,
            ClientRequestToken: versionId,
            SecretString: value,
            ...(options.description && { Description: options.description }),
            ...(this.kmsKeyId && { KmsKeyId: this.kmsKeyId }),
            ...(tags.length && { Tags: tags.map(([Key, Value]) => ({ Key, Value })) }),
          }),
        ),
      );
      return { created: true };
    } catch (e) {
      if (!isExists(e)) throw e;
    }
    // Created meanwhile by another worker (or by this rotation's earlier attempt): put into it, as above.
    return defined(await putCurrent(false));
  }

  private async create(name: string, tags: readonly [string, string][], description: string | undefined): Promise<void> {
    try {
      await awsCall({ operation: 'Secrets Manager CreateSecret', target: name }, () =>
        this.client.send(
          new CreateSecretCommand({
            Name: name,
            ...(description && { Description: description }),
            ...(this.kmsKeyId && { KmsKeyId: this.kmsKeyId }),
            ...(tags.length && { Tags: tags.map(([Key, Value]) => ({ Key, Value })) }),
          }),
        ),
      );
    } catch (e) {
      // Another worker created it first: fine, the version below is what counts.
      if (awsErrorName((e as Error).cause) !== 'ResourceExistsException') throw e;
    }
  }

  private moveStage(name: string, stage: string, move: { to?: string; from?: string }): Promise<unknown> {
    return awsCall({ operation: 'Secrets Manager UpdateSecretVersionStage', target: `${name} ${stage}`, context: { item: name } }, () =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: stage,
          ...(move.to && { MoveToVersionId: move.to }),
          ...(move.from && { RemoveFromVersionId: move.from }),
        }),
      ),
    );
  }

  async promote(name: string, versionId: string): Promise<void> {
    const described = await this.rawStages(name);
    const labels = described?.raw[versionId];
    if (!described || !labels) throw new NotFoundError(`version ${versionId} of ${name} does not exist`, { context: { item: name } });
    // A first version already has AWSCURRENT (AWS put it there): removing rekey's label makes it count.
    if (labels.includes(INITIAL_LABEL)) await this.moveStage(name, INITIAL_LABEL, { from: versionId });
    if (!labels.includes(Stage.Current)) {
      const current = holderOf(described.raw, Stage.Current);
      await this.alreadyDoneOr(
        name,
        versionId,
        (l) => l.includes(Stage.Current),
        () => this.moveStage(name, Stage.Current, { to: versionId, ...(current && { from: current }) }),
      );
    }
    // Last, so a retry after a crash between the two calls still knows which version it was promoting.
    if (labels.includes(Stage.Pending))
      await this.alreadyDoneOr(
        name,
        versionId,
        (l) => !l.includes(Stage.Pending),
        () => this.moveStage(name, Stage.Pending, { from: versionId }),
      );
  }

  /**
   * Runs a stage move; when it fails, reads the stages again and accepts the failure as success if the move is
   * already done: another worker promoting the same version at the same moment (a redelivered message while the
   * first delivery still runs) moved the label between this one's read and its move.
   */
  private async alreadyDoneOr(
    name: string,
    versionId: string,
    done: (labels: readonly string[]) => boolean,
    move: () => Promise<unknown>,
  ): Promise<void> {
    try {
      await move();
    } catch (e) {
      const labels = (await this.rawStages(name).catch(() => undefined))?.raw[versionId];
      if (labels && done(labels)) return;
      throw e;
    }
  }

  async discardPending(name: string, versionId: string): Promise<void> {
    const described = await this.rawStages(name);
    if (!described?.raw[versionId]?.includes(Stage.Pending)) return;
    await this.moveStage(name, Stage.Pending, { from: versionId });
  }

  async rollback(name: string): Promise<string> {
    const described = await this.rawStages(name);
    const visible = Object.entries(described?.raw ?? {}).map(([id, labels]) => [id, visibleStages(labels)] as const);
    const previous = visible.find(([, s]) => s.includes(Stage.Previous))?.[0];
    if (!described || !previous) throw new NotFoundError(`${name} has no AWSPREVIOUS version to roll back to`, { context: { item: name } });
    const current = holderOf(described.raw, Stage.Current);
    await this.moveStage(name, Stage.Current, { to: previous, ...(current && { from: current }) });
    return previous;
  }

  async list(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await awsCall({ operation: 'Secrets Manager ListSecrets', target: prefix }, () =>
        this.client.send(
          new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], MaxResults: 100, ...(token && { NextToken: token }) }),
        ),
      );
      // The name filter matches prefixes of words too; keep exact prefixes only.
      for (const s of page.SecretList ?? []) if (s.Name?.startsWith(prefix)) names.push(s.Name);
      token = page.NextToken || undefined;
    } while (token);
    return [...new Set(names)].sort();
  }
}

/** ResourceExistsException, as awsCall wraps it (the SDK error is the cause) or raw. */
function isExists(e: unknown): boolean {
  return awsErrorName(e) === 'ResourceExistsException' || awsErrorName((e as Error | undefined)?.cause) === 'ResourceExistsException';
}

function checkVersionId(name: string, versionId: string): void {
  const { minVersionIdLength: min, maxVersionIdLength: max } = SecretsManagerLimits;
  if (versionId.length < min || versionId.length > max || !/^[\x21-\x7e]+$/.test(versionId)) {
    throw new RekeyError(
      `${name}: version id "${versionId}" cannot be a Secrets Manager ClientRequestToken (${min} to ${max} printable characters)`,
      { context: { item: name } },
    );
  }
}

/** What every write checks before calling AWS: the version id, Secrets Manager's size and tag limits. Returns the tags. */
function checkedWrite(name: string, versionId: string, value: string, tagMap: Record<string, string> = {}): [string, string][] {
  checkVersionId(name, versionId);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > SecretsManagerLimits.maxSecretBytes) {
    throw new RekeyError(
      `${name}: the value is ${bytes} bytes; Secrets Manager stores at most ${SecretsManagerLimits.maxSecretBytes} bytes (64 KiB) per secret version`,
      { context: { item: name, bytes } },
    );
  }
  const tags = Object.entries(tagMap);
  if (tags.length > SecretsManagerLimits.maxTags)
    throw new RekeyError(`${name}: ${tags.length} tags; Secrets Manager allows ${SecretsManagerLimits.maxTags}`, {
      context: { item: name },
    });
  return tags;
}
