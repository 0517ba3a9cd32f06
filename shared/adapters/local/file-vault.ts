import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { IntegrityError, NotFoundError, RotationLockedError } from '../../domain/errors.js';
import {
  Stage,
  type PutCurrentResult,
  type PutPendingResult,
  type SecretDescription,
  type SecretStore,
  type StoredVersion,
} from '../../ports/secret-store.js';
import { removeStaleTemps, writeFileAtomic } from './atomic-file.js';
import { inProcessFileWrites, type DurableCommit, type FileWrites } from './file-writes.js';
import { readdirOrEmpty, readTextOrUndefined } from './missing-ok.js';
import { decodeBase64Strict } from './strict-base64.js';
import { defined } from '../../domain/defined.js';
import { RecentMap } from '../../domain/recent-map.js';

interface VaultEntry {
  name: string;
  tags: Record<string, string>;
  description?: string;
  versions: Array<{ versionId: string; stages: Stage[]; createdAt: string; value: string }>;
  /** Bumped on every write; checked against the index (absent in files of earlier rekeys: 0). */
  generation?: number;
}

/** The encrypted box every vault file holds. */
interface Box {
  v: number;
  iv: string;
  tag: string;
  data: string;
}

const BOX_VERSION = 1;

/**
 * `JSON.stringify(box)`, byte for byte (base64 needs no escaping): the stringify scanned every entry's data once more,
 * half of what sealing cost.
 */
const boxJson = (box: Box): string => `{"v":${box.v},"iv":"${box.iv}","tag":"${box.tag}","data":"${box.data}"}`;
const IV_BYTES = 12;

/**
 * IVs are drawn from the CSPRNG 256 at a time: a draw per seal (a RAND call and a Buffer each) cost 15 µs, 150 ms
 * of the main thread in an apply of 10,000. Each draw is a new Buffer, so an IV handed out never changes.
 */
const IVS_PER_DRAW = 256;
let ivDraw = Buffer.alloc(0);
let ivAt = 0;
function freshIv(): Buffer {
  if (ivAt + IV_BYTES > ivDraw.length) {
    ivDraw = randomBytes(IV_BYTES * IVS_PER_DRAW);
    ivAt = 0;
  }
  ivAt += IV_BYTES;
  return ivDraw.subarray(ivAt - IV_BYTES, ivAt);
}

/** GCM's full tag: decipher.setAuthTag accepts 4 to 16 bytes, and a cut tag is a forgery made easier. */
const TAG_BYTES = 16;

/**
 * `<vault>/index`: the generation of every secret, encrypted and authenticated like an entry (its own associated
 * data, so no entry can stand in for it). Rollback detection: a vault file put back from an older copy carries a
 * generation below the index's and is refused. The entry is written before the index, so after a crash between
 * the two an entry may be one generation ahead, which is accepted; an entry more than one ahead means the index
 * itself was put back. The index lives in the vault rather than the journal because every store write goes
 * through it, including the ones no rotation records. Limit: the whole folder (entries and index together)
 * restored from one backup is consistent and accepted, which is what a restore is for.
 */
const INDEX_FILE = 'index';
/**
 * The index is a log: its first line a whole snapshot of the generations, each later line the generations one group
 * commit changed, each line sealed on its own; reading takes the highest generation of every name. A commit appends
 * one short line and fsyncs it, instead of rewriting the whole index (which cost O(secrets) per commit, O(n²) over
 * an apply of n). Each process rewrites it whole once before its first write (dropping a line cut by a kill), and
 * again whenever the lines appended since outgrow the snapshot. A copy of the file put back from before some
 * commits is a shorter log, so entries read ahead of it, as with the whole-file index.
 */
const INDEX_COMPACT_MIN_BYTES = 64 * 1024;

interface VaultIndex {
  readonly generations: Map<string, number>;
  exists: boolean;
}
const INDEX_AAD = 'rekey:vault-index';

/** Versions without a label beyond this many are dropped, oldest first (Secrets Manager keeps about 100). */
const KEEP_UNLABELLED = 10;

/** An entry write waiting for the next group commit. */
interface QueuedWrite {
  readonly entry: VaultEntry & { generation: number };
  readonly sealed: string;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Entries the vault keeps in memory: more than an apply has in flight (512 leaves at once), so each entry read
 * before its write is still there for it; an entry forgotten is read again from its file.
 */
export const ENTRY_CACHE_SIZE = 2048;

/**
 * The embedded SecretStore: one file per secret under `<state>/vault`, AES-256-GCM encrypted with the secret's
 * name as associated data (a file renamed onto another secret fails to decrypt), written atomically.
 *
 * Group commit: writes that arrive while a commit is under way wait for the next one, which writes all their
 * files (each its own temporary file, fsync, rename), fsyncs the folder once and the index once. A write
 * returns only after its commit, so every version is durable before anyone is told of it; many versions share
 * each fsync of the folder and of the index.
 */
export class FileVault implements SecretStore {
  /** Entries as last read or written, a bounded number: an apply of 10,000 secrets kept them all to the end. */
  private readonly cache: RecentMap<string, VaultEntry | undefined>;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly now: () => Date;
  private readonly indexCompactBytes: number;
  /** Generations by secret name, as this process last read or wrote them; loaded on first use. */
  private index: Promise<VaultIndex> | undefined;
  private indexFlush: Promise<void> = Promise.resolve();
  private indexPending: Promise<void> | undefined;
  /** Index writes requested and not yet settled: flushes, and commits that carry their index line. */
  private indexWrites = 0;
  private prepared: Promise<void> | undefined;
  /** The index file as this process last wrote or read it (inode, size, mtime): unchanged means nothing to merge. */
  private indexStamp: string | undefined;
  private queue: QueuedWrite[] = [];
  private committing = false;
  /** Names whose generation changed since the index was last written (the next appended line). */
  private indexDirty = new Set<string>();
  /** Bytes of the snapshot this process wrote, and of the lines appended after it; undefined: no snapshot yet. */
  private indexLog: { snapshot: number; appended: number } | undefined;
  private readonly sole: boolean;
  /** With `sole`: the entry files in the folder, listed once and kept current by this process's writes. */
  private entryFiles: Promise<Set<string>> | undefined;
  private readonly files: FileWrites;

  /**
   * `sole`: this process holds the state folder's lock for as long as it uses this vault, so no other process
   * writes here; a secret with no entry file in the folder's listing and none in the index is then known to be
   * missing without opening its file (an apply of n new certificates saves n failed opens). `files`: how a group
   * commit's entry files are written (default in process; the CLI's apply hands them to its file writer thread).
   */
  constructor(
    private readonly dir: string,
    private readonly key: Buffer,
    options: { now?: () => Date; indexCompactBytes?: number; sole?: boolean; entryCacheSize?: number; files?: FileWrites } = {},
  ) {
    this.files = options.files ?? inProcessFileWrites;
    this.cache = new RecentMap(options.entryCacheSize ?? ENTRY_CACHE_SIZE);
    this.now = options.now ?? (() => new Date());
    this.indexCompactBytes = options.indexCompactBytes ?? INDEX_COMPACT_MIN_BYTES;
    this.sole = options.sole ?? false;
  }

  private listEntryFiles(): Promise<Set<string>> {
    this.entryFiles ??= readdirOrEmpty(this.dir).then((names) => new Set(names.filter((n) => n.endsWith(ENTRY_SUFFIX))));
    return this.entryFiles;
  }

  /** With `sole`: a secret with no entry file in the folder's listing and no generation in the index has no entry. */
  private async knownMissing(name: string, generations: ReadonlyMap<string, number>): Promise<boolean> {
    return this.sole && !generations.has(name) && !(await this.listEntryFiles()).has(entryFileName(name));
  }

  private fileOf(name: string): string {
    return join(this.dir, entryFileName(name));
  }

  private async read(name: string): Promise<VaultEntry | undefined> {
    if (this.cache.has(name)) return this.cache.get(name);
    // The index first: entries only move ahead of it, so an entry read after it is never legitimately behind.
    const index = await this.loadIndex();
    if (await this.knownMissing(name, index.generations)) {
      this.cache.set(name, undefined);
      return undefined;
    }
    const raw = await readTextOrUndefined(this.fileOf(name));
    let entry: VaultEntry | undefined;
    try {
      entry = raw === undefined ? undefined : (JSON.parse(this.open(name, name, raw).toString('utf8')) as VaultEntry);
    } catch (e) {
      if (!(await this.isCutFirstWrite(name, defined(raw)))) throw e;
      entry = undefined;
    }
    // Another process (the lock holder) may have written since this one loaded the index: look once more.
    const problem = this.generationProblem(name, entry, index) && this.generationProblem(name, entry, await this.refreshIndex());
    if (problem) throw new IntegrityError(problem, { context: { item: name } });
    this.cache.set(name, entry);
    return entry;
  }

  /**
   * An entry file made in place (a first write, see commitFiles) whose writer was killed before it was complete: it
   * ends early (empty, or a box cut short) and the index, which is written only once the files are durable, does not
   * know its secret. Its write was never acknowledged, so it reads as never written, and the next write replaces it.
   * A complete box that does not decrypt stays an error.
   */
  private async isCutFirstWrite(name: string, raw: string): Promise<boolean> {
    if (raw.trimEnd().endsWith('}')) return false;
    const index = await this.refreshIndex();
    return index.exists && !index.generations.has(name);
  }

  /** Why an entry cannot be trusted against the index: an older copy put back, a deleted one, a lost index. */
  private generationProblem(name: string, entry: VaultEntry | undefined, index: VaultIndex): string | undefined {
    const have = entry?.generation ?? 0;
    const indexPath = join(this.dir, INDEX_FILE);
    // No index: a vault of an earlier rekey (no generations) is fine; entries with generations lost their index.
    if (!index.exists)
      return have > 0
        ? `vault index ${indexPath} is missing but ${name} has generation ${have}: the index was removed; refusing to read the vault`
        : undefined;
    const known = index.generations.get(name);
    if (known === undefined) return undefined; // first write of this secret, cut by a crash before the index was updated
    if (!entry)
      return `vault entry ${name} is missing (${this.fileOf(name)}), but the vault index records generation ${known}: it was deleted`;
    if (have < known) {
      return `vault entry ${name} is an older copy (generation ${have}, the vault index records ${known}): ${this.fileOf(name)} was put back from an earlier state; refusing to use it (restore the newest copy; to go back to a previous version use rekey rollback)`;
    }
    if (have > known + 1)
      return `vault index ${indexPath} is older than entry ${name} (generation ${known} < ${have}): the index was put back from an earlier state`;
    return undefined;
  }

  /** Decrypts a box, checking its format, IV and full-length tag; `aad` binds it to its name. */
  private open(label: string, aad: string, raw: string): Buffer {
    const fail = (why: string, cause?: unknown): never => {
      throw new IntegrityError(`vault entry ${label} cannot be decrypted (${why})`, {
        ...(cause !== undefined && { cause }),
        context: { item: label },
      });
    };
    let box: Partial<Box> | null;
    try {
      box = JSON.parse(raw) as Partial<Box> | null;
    } catch (cause) {
      return fail('damaged file: not JSON', cause);
    }
    if (box?.v !== BOX_VERSION) return fail(`unknown format v=${JSON.stringify(box?.v)}; this rekey reads v${BOX_VERSION}`);
    const iv = typeof box.iv === 'string' ? decodeBase64Strict(box.iv) : undefined;
    const tag = typeof box.tag === 'string' ? decodeBase64Strict(box.tag) : undefined;
    const data = typeof box.data === 'string' ? decodeBase64Strict(box.data) : undefined;
    if (iv?.length !== IV_BYTES) return fail(`damaged file: the IV must be ${IV_BYTES} bytes`);
    if (tag?.length !== TAG_BYTES) return fail(`damaged file: the authentication tag must be ${TAG_BYTES} bytes`);
    if (!data) return fail('damaged file: the data is not base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(data), decipher.final()]);
    } catch (cause) {
      return fail('wrong REKEY_VAULT_KEY or damaged file', cause);
    }
  }

  private seal(aad: string, plain: string): string {
    const iv = freshIv();
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad));
    const head = cipher.update(plain, 'utf8');
    const tail = cipher.final(); // empty for GCM, a stream mode
    const data = tail.length ? Buffer.concat([head, tail]) : head;
    return boxJson({
      v: BOX_VERSION,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    });
  }

  private loadIndex(): Promise<VaultIndex> {
    this.index ??= this.readIndex().then((g) => ({ generations: g ?? new Map<string, number>(), exists: g !== undefined }));
    return this.index;
  }

  /** Merges the index on disk into this process's (never lowering a generation: an older index cannot win). */
  private async refreshIndex(): Promise<VaultIndex> {
    const index = await this.loadIndex();
    // The index this process wrote last is still there: nothing to merge (reading it back costs as much as writing).
    if (this.indexStamp !== undefined && this.indexStamp === this.stampOfIndex()) return index;
    const disk = await this.readIndex();
    if (disk) {
      index.exists = true;
      for (const [name, g] of disk) index.generations.set(name, Math.max(g, index.generations.get(name) ?? 0));
    }
    return index;
  }

  /** Synchronous: a stat is a few microseconds, and asked of the thread pool it waited for a turn of a busy event loop. */
  private stampOfIndex(): string | undefined {
    try {
      const s = statSync(join(this.dir, INDEX_FILE), { bigint: true, throwIfNoEntry: false });
      return s && `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      return undefined;
    }
  }

  private async readIndex(): Promise<Map<string, number> | undefined> {
    const stamp = this.stampOfIndex();
    const raw = await readTextOrUndefined(join(this.dir, INDEX_FILE));
    if (raw === undefined) return undefined;
    this.indexStamp = stamp;
    const generations = new Map<string, number>();
    const lines = raw.split('\n');
    lines.forEach((line, i) => {
      if (line === '') return;
      let parsed: { generations: Record<string, number> };
      try {
        parsed = JSON.parse(this.open('index', INDEX_AAD, line).toString('utf8')) as { generations: Record<string, number> };
      } catch (e) {
        // The last line of a log that does not end in a newline was cut by a kill while it was appended: that commit's
        // entries read one generation ahead, as after any kill between entries and index. Anything else is damage.
        if (i > 0 && i === lines.length - 1) return;
        throw e;
      }
      for (const [name, g] of Object.entries(parsed.generations)) generations.set(name, Math.max(g, generations.get(name) ?? 0));
    });
    return generations;
  }

  /**
   * Once per process before the first write: removes temporary files a killed writer left, and creates the index
   * for a vault that has none (empty, or of an earlier rekey whose entries have no generation), so that from then
   * on a missing index is noticed.
   */
  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      await removeStaleTemps(this.dir);
      await this.loadIndex();
      // A snapshot of its own before the first write (see INDEX_COMPACT_MIN_BYTES); also creates a missing index.
      await this.flushIndex();
    })();
    return this.prepared;
  }

  /**
   * Writes the index with every generation known here, merged with the one on disk (another FileVault on this
   * folder in this process may have written). Calls that arrive while a write is queued share it.
   */
  private flushIndex(): Promise<void> {
    if (this.indexPending) return this.indexPending;
    const run = this.indexFlush.then(async () => {
      this.indexPending = undefined;
      const index = await this.refreshIndex();
      const dirty = this.indexDirty;
      this.indexDirty = new Set();
      const path = join(this.dir, INDEX_FILE);
      try {
        const log = this.indexLog;
        if (log && index.exists && log.appended < Math.max(this.indexCompactBytes, log.snapshot)) {
          const changed = Object.fromEntries([...dirty].map((name) => [name, index.generations.get(name) ?? 0]));
          const line = this.indexLine(changed);
          await this.files.appendDurably(path, line);
          log.appended += Buffer.byteLength(line);
        } else {
          const snapshot = this.indexLine(Object.fromEntries(index.generations));
          await writeFileAtomic(path, snapshot, { mode: 0o600 });
          this.indexLog = { snapshot: Buffer.byteLength(snapshot), appended: 0 };
        }
      } catch (e) {
        for (const name of dirty) this.indexDirty.add(name);
        throw e;
      }
      this.indexStamp = this.stampOfIndex();
      index.exists = true;
    });
    this.indexPending = run;
    this.trackIndexWrite(run);
    return run;
  }

  /** Counts `write` among the index writes under way until it settles; later index writes wait for it. */
  private trackIndexWrite(write: Promise<unknown>): void {
    this.indexWrites++;
    this.indexFlush = write
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.indexWrites--);
  }

  /**
   * The index line of a batch, for the file writer to append right after the batch's files (one request, no turn of
   * this thread between them), when nothing else is owed to the index: no index write queued or running, no other
   * name dirty, the index on disk the one this process wrote last, the log not due for a snapshot. Otherwise
   * undefined, and the batch's line goes through flushIndex.
   */
  private async indexLineFor(batch: readonly QueuedWrite[]): Promise<string | undefined> {
    const index = await this.loadIndex();
    const log = this.indexLog;
    if (!log || !index.exists || this.indexWrites || this.indexDirty.size) return undefined;
    if (log.appended >= Math.max(this.indexCompactBytes, log.snapshot)) return undefined;
    if (this.indexStamp === undefined || this.indexStamp !== this.stampOfIndex()) return undefined;
    const changed: Record<string, number> = {};
    for (const { entry } of batch) changed[entry.name] = Math.max(entry.generation, index.generations.get(entry.name) ?? 0);
    return this.indexLine(changed);
  }

  /** One line of the index log: generations by name, sealed (a snapshot line holds every name, a commit's its own). */
  private indexLine(generations: Record<string, number>): string {
    return this.seal(INDEX_AAD, JSON.stringify({ generations })) + '\n';
  }

  /** Writes a batch's files, with its index line when indexLineFor gives one; later index writes wait for it. */
  private async commitFiles(batch: readonly QueuedWrite[]): Promise<DurableCommit & { readonly line?: string }> {
    // A secret known to have no entry gets its file made in place; a kill while it is written leaves it damaged and
    // unknown to the index, which reads as never written.
    const { generations } = await this.loadIndex();
    const files = await Promise.all(
      batch.map(async (w) => ({
        path: this.fileOf(w.entry.name),
        data: w.sealed,
        mode: 0o600,
        ...((await this.knownMissing(w.entry.name, generations)) && { fresh: true }),
      })),
    );
    const line = await this.indexLineFor(batch);
    if (line === undefined) return { files: await this.files.writeDurably(files), appended: undefined };
    const commit = this.files.writeDurablyThenAppend(files, { path: join(this.dir, INDEX_FILE), data: line });
    this.trackIndexWrite(this.indexFlush.then(() => commit));
    return { ...(await commit), line };
  }

  private async write(entry: VaultEntry): Promise<void> {
    await this.prepare();
    const { generations } = await this.loadIndex();
    // An entry one generation ahead of the index (its writer was killed between the two writes) is recorded in the
    // index before it moves on: otherwise a kill of this write too would leave the entry two ahead, refused for good.
    if ((entry.generation ?? 0) > (generations.get(entry.name) ?? 0)) {
      generations.set(entry.name, defined(entry.generation));
      this.indexDirty.add(entry.name);
      await this.flushIndex();
    }
    const generation = Math.max(entry.generation ?? 0, generations.get(entry.name) ?? 0) + 1;
    const next = { ...entry, generation };
    const sealed = this.seal(entry.name, JSON.stringify(next));
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ entry: next, sealed, resolve, reject });
      if (!this.committing) {
        this.committing = true;
        void this.drain();
      }
    });
  }

  /**
   * Commits queued writes, a batch at a time, until none are left: the entries' files, then the index. An entry
   * counts only once the index knows it (an older copy put back later is then refused); a kill between the two
   * leaves entries one generation ahead of the index, which reads as a cut write, not a rollback. Usually the index
   * line goes with the batch (commitFiles): the file writer appends it once the files are durable under their names.
   */
  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        const commit = await this.commitFiles(batch);
        const outcomes = commit.files;
        const written = batch.filter((w, i) => {
          const outcome = defined(outcomes[i]);
          if (outcome.status === 'fulfilled') return true;
          // Its file is the old content: the cache (the entry before this write) is still true.
          w.reject(outcome.reason);
          return false;
        });
        const { generations } = await this.loadIndex();
        const files = this.entryFiles && (await this.entryFiles);
        for (const { entry } of written) {
          files?.add(entryFileName(entry.name));
          this.cache.set(entry.name, entry);
          generations.set(entry.name, Math.max(entry.generation, generations.get(entry.name) ?? 0));
          if (commit.appended?.status !== 'fulfilled') this.indexDirty.add(entry.name);
        }
        try {
          if (commit.appended?.status === 'rejected') throw commit.appended.reason;
          if (commit.appended && commit.line !== undefined) {
            defined(this.indexLog).appended += Buffer.byteLength(commit.line);
            this.indexStamp = this.stampOfIndex();
          } else await this.flushIndex();
        } catch (e) {
          // Entries renamed but not indexed are one generation ahead at most: forget them so the next read looks again.
          for (const w of written) {
            this.cache.delete(w.entry.name);
            w.reject(e);
          }
          continue;
        }
        for (const w of written) w.resolve();
      } catch (e) {
        for (const w of batch) {
          this.cache.delete(w.entry.name);
          w.reject(e);
        }
      }
    }
    // Set in the same turn as the empty-queue check: a write queued after this starts a new drain.
    this.committing = false;
  }

  /** Serialises changes to one secret within this process. */
  private exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    this.locks.set(
      name,
      run.catch(() => undefined),
    );
    return run;
  }

  async describe(name: string): Promise<SecretDescription | undefined> {
    const e = await this.read(name);
    if (!e) return undefined;
    return {
      name,
      tags: { ...e.tags },
      versions: e.versions.map(({ versionId, stages, createdAt }) => ({ versionId, stages: [...stages], createdAt })),
    };
  }

  async getVersion(name: string, selector: { stage?: Stage; versionId?: string } = {}): Promise<StoredVersion | undefined> {
    const e = await this.read(name);
    const stage = selector.stage ?? (selector.versionId ? undefined : Stage.Current);
    const v = e?.versions.find(
      (x) => (selector.versionId ? x.versionId === selector.versionId : true) && (stage ? x.stages.includes(stage) : true),
    );
    return v && { versionId: v.versionId, stages: [...v.stages], createdAt: v.createdAt, value: v.value };
  }

  putPending(
    name: string,
    versionId: string,
    value: string,
    options: { tags?: Record<string, string>; description?: string } = {},
  ): Promise<PutPendingResult> {
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

  putCurrent(
    name: string,
    versionId: string,
    value: string,
    options: { tags?: Record<string, string>; description?: string } = {},
  ): Promise<PutCurrentResult> {
    return this.exclusive(name, async () => {
      const existing = await this.read(name);
      const entry: VaultEntry = existing ? structuredClone(existing) : { name, tags: {}, versions: [] };
      if (entry.versions.some((v) => v.versionId === versionId)) return { created: false };
      const replaced = entry.versions.find((v) => v.stages.includes(Stage.Current))?.versionId;
      entry.tags = { ...entry.tags, ...options.tags };
      if (options.description) entry.description = options.description;
      // As Secrets Manager does: the old current becomes the only previous; a pending version keeps its label.
      for (const v of entry.versions) {
        if (v.stages.includes(Stage.Current)) v.stages = [...v.stages.filter((s) => s !== Stage.Current), Stage.Previous];
        else v.stages = v.stages.filter((s) => s !== Stage.Previous);
      }
      entry.versions.push({ versionId, stages: [Stage.Current], createdAt: this.now().toISOString(), value });
      await this.write(prune(entry));
      return { created: true, ...(replaced && { replaced }) };
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
      const v = defined(entry.versions.find((x) => x.versionId === versionId));
      v.stages = v.stages.filter((s) => s !== Stage.Pending);
      await this.write(prune(entry));
    });
  }

  rollback(name: string): Promise<string> {
    return this.exclusive(name, async () => {
      const existing = await this.read(name);
      const previous = existing?.versions.find((v) => v.stages.includes(Stage.Previous));
      if (!existing || !previous)
        throw new NotFoundError(`${name} has no AWSPREVIOUS version to roll back to`, { context: { item: name } });
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
      .filter((f) => f.endsWith(ENTRY_SUFFIX))
      .map((f) => decodeURIComponent(f.slice(0, -ENTRY_SUFFIX.length)))
      .filter((n) => n.startsWith(prefix))
      .sort();
  }
}

/** An entry's file: its secret's name, URI-encoded, and this suffix. */
const ENTRY_SUFFIX = '.vault';

function entryFileName(name: string): string {
  return `${encodeURIComponent(name)}${ENTRY_SUFFIX}`;
}

function prune(entry: VaultEntry): VaultEntry {
  const unlabelled = entry.versions.filter((v) => v.stages.length === 0);
  if (unlabelled.length <= KEEP_UNLABELLED) return entry;
  const drop = new Set(unlabelled.slice(0, unlabelled.length - KEEP_UNLABELLED).map((v) => v.versionId));
  return { ...entry, versions: entry.versions.filter((v) => !drop.has(v.versionId)) };
}
