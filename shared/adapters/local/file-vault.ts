import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { IntegrityError, NotFoundError, RotationLockedError } from '../../domain/errors.js';
import { Stage, type PutPendingResult, type SecretDescription, type SecretStore, type StoredVersion } from '../../ports/secret-store.js';
import { writeFileAtomic } from './atomic-file.js';
import { readdirOrEmpty, readTextOrUndefined } from './missing-ok.js';

interface VaultEntry {
  name: string;
  tags: Record<string, string>;
  description?: string;
  versions: Array<{ versionId: string; stages: Stage[]; createdAt: string; value: string }>;
}

/** Versions without a label beyond this many are dropped, oldest first (Secrets Manager keeps about 100). */
const KEEP_UNLABELLED = 10;

/**
 * The embedded SecretStore: one file per secret under `<state>/vault`, AES-256-GCM encrypted with the secret's
 * name as associated data (a file renamed onto another secret fails to decrypt), written atomically.
 */
export class FileVault implements SecretStore {
  private readonly cache = new Map<string, VaultEntry | undefined>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly now: () => Date;

  constructor(private readonly dir: string, private readonly key: Buffer, options: { now?: () => Date } = {}) {
    this.now = options.now ?? (() => new Date());
  }

  private fileOf(name: string): string {
    return join(this.dir, `${encodeURIComponent(name)}.vault`);
  }

  private async read(name: string): Promise<VaultEntry | undefined> {
    if (this.cache.has(name)) return this.cache.get(name);
    const raw = await readTextOrUndefined(this.fileOf(name));
    const entry = raw === undefined ? undefined : this.decrypt(name, raw);
    this.cache.set(name, entry);
    return entry;
  }

  private decrypt(name: string, raw: string): VaultEntry {
    try {
      const box = JSON.parse(raw) as { v: number; iv: string; tag: string; data: string };
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(box.iv, 'base64'));
      decipher.setAAD(Buffer.from(name));
      decipher.setAuthTag(Buffer.from(box.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(box.data, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as VaultEntry;
    } catch (cause) {
      throw new IntegrityError(`vault entry ${name} cannot be decrypted (wrong REKEY_VAULT_KEY or damaged file)`, { cause, context: { item: name } });
    }
  }

  private async write(entry: VaultEntry): Promise<void> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(entry.name));
    const data = Buffer.concat([cipher.update(JSON.stringify(entry), 'utf8'), cipher.final()]);
    const box = { v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
    await writeFileAtomic(this.fileOf(entry.name), JSON.stringify(box), { mode: 0o600 });
    this.cache.set(entry.name, entry);
  }

  /** Serialises changes to one secret within this process. */
  private exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    this.locks.set(name, run.catch(() => undefined));
    return run;
  }

  async describe(name: string): Promise<SecretDescription | undefined> {
    const e = await this.read(name);
    if (!e) return undefined;
    return { name, tags: { ...e.tags }, versions: e.versions.map(({ versionId, stages, createdAt }) => ({ versionId, stages: [...stages], createdAt })) };
  }

  async getVersion(name: string, selector: { stage?: Stage; versionId?: string } = {}): Promise<StoredVersion | undefined> {
    const e = await this.read(name);
    const stage = selector.stage ?? (selector.versionId ? undefined : Stage.Current);
    const v = e?.versions.find((x) => (selector.versionId ? x.versionId === selector.versionId : true) && (stage ? x.stages.includes(stage) : true));
    return v && { versionId: v.versionId, stages: [...v.stages], createdAt: v.createdAt, value: v.value };
  }

  putPending(name: string, versionId: string, value: string, options: { tags?: Record<string, string>; description?: string } = {}): Promise<PutPendingResult> {
    return this.exclusive(name, async () => {
      const existing = await this.read(name);
      const entry: VaultEntry = existing ? structuredClone(existing) : { name, tags: {}, versions: [] };
      if (entry.versions.some((v) => v.versionId === versionId)) return { created: false };
      const pending = entry.versions.find((v) => v.stages.includes(Stage.Pending));
      if (pending) throw new RotationLockedError(name, pending.versionId, versionId);
      entry.tags = { ...entry.tags, ...options.tags };
      if (options.description) entry.description = options.description;
      entry.versions.push({ versionId, stages: [Stage.Pending], createdAt: this.now().toISOString(), value });
      await this.write(prune(entry));
      return { created: true };
    });
  }

  promote(name: string, versionId: string): Promise<void> {
    return this.exclusive(name, async () => {
      const existing = await this.read(name);
      const target = existing?.versions.find((v) => v.versionId === versionId);
      if (!existing || !target) throw new NotFoundError(`version ${versionId} of ${name} does not exist`, { context: { item: name } });
      if (target.stages.includes(Stage.Current) && !target.stages.includes(Stage.Pending)) return;
      const entry = structuredClone(existing);
      for (const v of entry.versions) {
        if (v.versionId === versionId) v.stages = [Stage.Current];
        else if (v.stages.includes(Stage.Current)) v.stages = [Stage.Previous];
        else v.stages = v.stages.filter((s) => s !== Stage.Previous);
      }
      await this.write(prune(entry));
    });
  }

  discardPending(name: string, versionId: string): Promise<void> {
    return this.exclusive(name, async () => {
      const existing = await this.read(name);
      const target = existing?.versions.find((v) => v.versionId === versionId);
      if (!existing || !target?.stages.includes(Stage.Pending)) return;
      const entry = structuredClone(existing);
      const v = entry.versions.find((x) => x.versionId === versionId)!;
      v.stages = v.stages.filter((s) => s !== Stage.Pending);
      await this.write(prune(entry));
    });
  }

  rollback(name: string): Promise<string> {
    return this.exclusive(name, async () => {
      const existing = await this.read(name);
      const previous = existing?.versions.find((v) => v.stages.includes(Stage.Previous));
      if (!existing || !previous) throw new NotFoundError(`${name} has no AWSPREVIOUS version to roll back to`, { context: { item: name } });
      const entry = structuredClone(existing);
      for (const v of entry.versions) {
        if (v.versionId === previous.versionId) v.stages = [Stage.Current];
        else if (v.stages.includes(Stage.Current)) v.stages = [Stage.Previous];
      }
      await this.write(entry);
      return previous.versionId;
    });
  }

  async list(prefix: string): Promise<string[]> {
    return (await readdirOrEmpty(this.dir))
      .filter((f) => f.endsWith('.vault'))
      .map((f) => decodeURIComponent(f.slice(0, -'.vault'.length)))
      .filter((n) => n.startsWith(prefix))
      .sort();
  }
}

function prune(entry: VaultEntry): VaultEntry {
  const unlabelled = entry.versions.filter((v) => v.stages.length === 0);
  if (unlabelled.length <= KEEP_UNLABELLED) return entry;
  const drop = new Set(unlabelled.slice(0, unlabelled.length - KEEP_UNLABELLED).map((v) => v.versionId));
  return { ...entry, versions: entry.versions.filter((v) => !drop.has(v.versionId)) };
}
