/**
 * Secrets Manager, emulated behind the `send(command)` of the SDK client that the real SecretsManagerStore uses:
 * versions with staging labels (AWSCURRENT moves AWSPREVIOUS by itself, a first version gets AWSCURRENT), the
 * ClientRequestToken as idempotency token, and the regional write quota: PutSecretValue, UpdateSecret and
 * UpdateSecretVersionStage share one token bucket (50 requests/s, not adjustable); a write beyond it fails with
 * ThrottlingException. The SDK's retries of throttled calls (standard backoff, 5 attempts) are emulated here,
 * since the simulation bypasses the SDK's middleware; every refused attempt counts as a throttle.
 */
import { TokenBucket } from './token-bucket.js';
import type { VirtualTime } from './virtual-time.js';

export const SecretsManagerQuota = {
  /** PutSecretValue + UpdateSecret + UpdateSecretVersionStage, per region. */
  writesPerSecond: 50,
  /** GetSecretValue and DescribeSecret each (10,000/s); reads never bind here. */
  readsPerSecond: 10_000,
} as const;

interface Version {
  readonly id: string;
  readonly value: string;
  readonly created: Date;
  labels: string[];
}

interface Secret {
  readonly name: string;
  readonly tags: { Key: string; Value: string }[];
  readonly versions: Map<string, Version>;
}

interface Command {
  readonly input: Record<string, unknown>;
}

export class SdkError extends Error {
  readonly $metadata = { httpStatusCode: 400 };
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

const WRITES = new Set(['PutSecretValueCommand', 'UpdateSecretCommand', 'UpdateSecretVersionStageCommand']);

export interface SecretsManagerOptions {
  readonly writesPerSecond?: number;
  /** Latency of one call, ms. */
  readonly readMs?: number;
  readonly writeMs?: number;
  /** SDK attempts per call (first included). */
  readonly maxAttempts?: number;
}

export class EmulatedSecretsManager {
  private readonly secrets = new Map<string, Secret>();
  private readonly writeBucket: TokenBucket;
  private readonly readBucket: TokenBucket;
  /** Accepted calls by operation. */
  readonly calls = new Map<string, number>();
  throttles = 0;
  writes = 0;
  /** Accepted writes per virtual second (for the chart and the peak). */
  readonly writesPerSecond = new Map<number, number>();

  constructor(
    private readonly time: VirtualTime,
    private readonly options: SecretsManagerOptions = {},
  ) {
    const rate = options.writesPerSecond ?? SecretsManagerQuota.writesPerSecond;
    // AWS does not publish a burst for this quota; one second's worth is the usual token-bucket reading.
    this.writeBucket = new TokenBucket(rate, Math.max(1, rate), () => time.ms);
    this.readBucket = new TokenBucket(SecretsManagerQuota.readsPerSecond, SecretsManagerQuota.readsPerSecond, () => time.ms);
  }

  /** The SDK client's `send`, with its retries of throttling. */
  async send(command: Command): Promise<unknown> {
    const op = command.constructor.name;
    const attempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const isWrite = WRITES.has(op);
      await this.time.sleep(isWrite ? (this.options.writeMs ?? 30) : (this.options.readMs ?? 15));
      const admitted = isWrite ? this.writeBucket.tryTake() : this.readBucket.tryTake();
      if (admitted) {
        this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
        if (isWrite) {
          this.writes++;
          const second = Math.floor(this.time.ms / 1000);
          this.writesPerSecond.set(second, (this.writesPerSecond.get(second) ?? 0) + 1);
        }
        return this.apply(op, command.input);
      }
      this.throttles++;
      if (attempt >= attempts) throw new SdkError('ThrottlingException', 'Rate exceeded');
      // The SDK's standard backoff: full jitter on 100 ms * 2^attempt, at most 20 s.
      await this.time.sleep(Math.random() * Math.min(20_000, 100 * 2 ** attempt));
    }
  }

  /** Writes a version directly, outside the quota and the counts (the state before a simulated run). */
  seed(name: string, versionId: string, value: string, tags: Record<string, string> = {}): void {
    const secret: Secret = this.secrets.get(name) ?? {
      name,
      tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      versions: new Map<string, Version>(),
    };
    this.secrets.set(name, secret);
    for (const v of secret.versions.values()) v.labels = v.labels.filter((l) => l !== 'AWSCURRENT');
    secret.versions.set(versionId, { id: versionId, value, created: this.time.now(), labels: ['AWSCURRENT'] });
  }

  /** The current value of a secret, read outside the counts (setting up a run). */
  peek(name: string): string | undefined {
    const s = this.secrets.get(name);
    return s && this.holder(s, 'AWSCURRENT')?.value;
  }

  /** Secrets whose AWSCURRENT version still carries AWSPENDING (a promotion left half done: it locks the next rotation). */
  pendingOnCurrent(): number {
    let n = 0;
    for (const s of this.secrets.values()) {
      const current = this.holder(s, 'AWSCURRENT');
      if (current?.labels.includes('AWSPENDING')) n++;
    }
    return n;
  }

  private need(input: Record<string, unknown>): Secret {
    const name = String(input.SecretId);
    const s = this.secrets.get(name);
    if (!s) throw new SdkError('ResourceNotFoundException', `Secrets Manager can't find the specified secret: ${name}`);
    return s;
  }

  private holder(s: Secret, label: string): Version | undefined {
    for (const v of s.versions.values()) if (v.labels.includes(label)) return v;
    return undefined;
  }

  /** Moves a label onto `to`; AWSCURRENT leaving a version leaves AWSPREVIOUS behind on it. */
  private moveLabel(s: Secret, label: string, to: Version): void {
    const from = this.holder(s, label);
    if (from === to) return;
    if (from) from.labels = from.labels.filter((l) => l !== label);
    to.labels = [...to.labels.filter((l) => l !== label), label];
    if (label === 'AWSCURRENT' && from) {
      const prev = this.holder(s, 'AWSPREVIOUS');
      if (prev) prev.labels = prev.labels.filter((l) => l !== 'AWSPREVIOUS');
      from.labels = [...from.labels, 'AWSPREVIOUS'];
      to.labels = to.labels.filter((l) => l !== 'AWSPREVIOUS');
    }
    this.prune(s);
  }

  /** Versions without labels are deprecated; AWS keeps about 100. Their values are dropped here (never read). */
  private prune(s: Secret): void {
    for (const [id, v] of s.versions) if (v.labels.length === 0 && s.versions.size > 3) s.versions.delete(id);
  }

  private newVersion(s: Secret, token: string, value: string, stages: readonly string[]): void {
    const existing = s.versions.get(token);
    if (existing) {
      if (existing.value !== value)
        throw new SdkError('ResourceExistsException', `a version with ClientRequestToken ${token} already exists with another value`);
      return;
    }
    const first = s.versions.size === 0;
    const v: Version = { id: token, value, created: this.time.now(), labels: [] };
    s.versions.set(token, v);
    for (const label of stages) this.moveLabel(s, label, v);
    if (first && !v.labels.includes('AWSCURRENT')) v.labels.push('AWSCURRENT');
  }

  private apply(op: string, input: Record<string, unknown>): unknown {
    switch (op) {
      case 'CreateSecretCommand': {
        const name = String(input.Name);
        if (this.secrets.has(name)) throw new SdkError('ResourceExistsException', `the secret ${name} already exists`);
        const tags = (input.Tags as { Key: string; Value: string }[] | undefined) ?? [];
        this.secrets.set(name, { name, tags, versions: new Map() });
        if (typeof input.SecretString === 'string')
          this.newVersion(this.secrets.get(name)!, String(input.ClientRequestToken ?? `init-${name}`), input.SecretString, ['AWSCURRENT']);
        return { Name: name, ARN: `arn:aws:secretsmanager:sim:0:secret:${name}` };
      }
      case 'DescribeSecretCommand': {
        const s = this.need(input);
        return {
          Name: s.name,
          Tags: s.tags,
          VersionIdsToStages: Object.fromEntries([...s.versions.values()].filter((v) => v.labels.length).map((v) => [v.id, [...v.labels]])),
        };
      }
      case 'ListSecretVersionIdsCommand': {
        const s = this.need(input);
        return {
          Versions: [...s.versions.values()].map((v) => ({ VersionId: v.id, VersionStages: [...v.labels], CreatedDate: v.created })),
        };
      }
      case 'GetSecretValueCommand': {
        const s = this.need(input);
        const v =
          typeof input.VersionId === 'string'
            ? s.versions.get(input.VersionId)
            : this.holder(s, typeof input.VersionStage === 'string' ? input.VersionStage : 'AWSCURRENT');
        if (!v || (typeof input.VersionStage === 'string' && !v.labels.includes(input.VersionStage))) {
          throw new SdkError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for ${s.name}`);
        }
        return { Name: s.name, VersionId: v.id, SecretString: v.value, VersionStages: [...v.labels], CreatedDate: v.created };
      }
      case 'PutSecretValueCommand': {
        const s = this.need(input);
        const stages = (input.VersionStages as string[] | undefined) ?? ['AWSCURRENT'];
        this.newVersion(s, String(input.ClientRequestToken), String(input.SecretString), stages);
        return { Name: s.name, VersionId: input.ClientRequestToken, VersionStages: stages };
      }
      case 'UpdateSecretCommand': {
        const s = this.need(input);
        if (typeof input.SecretString === 'string')
          this.newVersion(s, String(input.ClientRequestToken), input.SecretString, ['AWSCURRENT']);
        return { Name: s.name, ...(typeof input.ClientRequestToken === 'string' && { VersionId: input.ClientRequestToken }) };
      }
      case 'UpdateSecretVersionStageCommand': {
        const s = this.need(input);
        const label = String(input.VersionStage);
        const holder = this.holder(s, label);
        if (typeof input.MoveToVersionId === 'string') {
          const to = s.versions.get(input.MoveToVersionId);
          if (!to) throw new SdkError('ResourceNotFoundException', `no version ${input.MoveToVersionId} of ${s.name}`);
          if (holder && holder !== to && input.RemoveFromVersionId !== holder.id) {
            throw new SdkError(
              'InvalidParameterException',
              `${label} is attached to ${holder.id}; name it in RemoveFromVersionId to move it`,
            );
          }
          this.moveLabel(s, label, to);
        } else if (typeof input.RemoveFromVersionId === 'string') {
          const from = s.versions.get(input.RemoveFromVersionId);
          if (!from?.labels.includes(label))
            throw new SdkError('InvalidParameterException', `${label} is not attached to ${input.RemoveFromVersionId}`);
          from.labels = from.labels.filter((l) => l !== label);
          this.prune(s);
        }
        return { Name: s.name };
      }
      case 'ListSecretsCommand': {
        const filter = (input.Filters as { Key: string; Values: string[] }[] | undefined)?.find((f) => f.Key === 'name')?.Values[0] ?? '';
        return { SecretList: [...this.secrets.keys()].filter((n) => n.startsWith(filter)).map((Name) => ({ Name })) };
      }
      default:
        throw new SdkError('InvalidRequestException', `the emulator does not implement ${op}`);
    }
  }
}
