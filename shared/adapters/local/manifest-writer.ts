import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORE_SCHEMA, load } from 'js-yaml';
import { IntegrityError, UnmanagedObjectError } from '../../domain/errors.js';
import { isManaged } from '../../domain/sync/secret.js';
import type { DesiredSecret, ObservedSecret, SecretSink, WriteOutcome } from '../../ports/cluster.js';
import { inProcessFileWrites, type FileWrites } from './file-writes.js';
import { manifestYaml, readPlainYaml } from './manifest-yaml.js';
import { readdirOrEmpty, readTextOrUndefined } from './missing-ok.js';

interface SecretManifest {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  type: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** A SecretSink that renders Secrets as `DIR/<cluster>/<namespace>/<name>.yaml` (`apply --out`). */
export class ManifestWriter implements SecretSink {
  readonly writes: string[] = [];
  /** Folders this writer has written into (made if missing): the next write there skips its mkdir. */
  private readonly folders = new Set<string>();
  /** With `sole`: the manifest files of each namespace folder, listed once and kept current by this writer. */
  private readonly listed = new Map<string, Promise<Set<string>>>();

  /**
   * `sole`: this process holds the state lock for as long as it writes here, so no other rekey writes the folder;
   * a Secret whose file is not in its folder's listing is then known to be absent without opening it. `files`: how
   * the manifests are written (default in process; the CLI's apply hands them to its file writer thread).
   */
  constructor(
    private readonly dir: string,
    private readonly options: { sole?: boolean; files?: FileWrites } = {},
  ) {}

  private manifestsIn(namespace: string): Promise<Set<string>> {
    let files = this.listed.get(namespace);
    if (!files) {
      files = readdirOrEmpty(join(this.dir, namespace)).then((names) => new Set(names));
      this.listed.set(namespace, files);
    }
    return files;
  }

  private fileOf(namespace: string, name: string): string {
    return join(this.dir, namespace, `${name}.yaml`);
  }

  /** A file in the output folder that is not YAML is the user's to fix: say which, rather than crash. */
  private static parse(text: string, path: string): SecretManifest | { kind?: unknown } | null {
    const plainTree = readPlainYaml(text);
    if (plainTree) return plainTree;
    try {
      return load(text, { schema: CORE_SCHEMA }) as SecretManifest | { kind?: unknown } | null;
    } catch (cause) {
      throw new IntegrityError(`${path} is not valid YAML (${(cause as Error).message.split('\n')[0]}); fix or remove it`, {
        cause,
        context: { path },
      });
    }
  }

  private static toObserved(m: SecretManifest): ObservedSecret {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    for (const [k, v] of Object.entries(m.stringData ?? {})) data[k] = v;
    return {
      name: m.metadata.name,
      namespace: m.metadata.namespace,
      type: m.type,
      data,
      labels: m.metadata.labels ?? {},
      annotations: m.metadata.annotations ?? {},
    };
  }

  async listSecrets(namespace: string): Promise<ObservedSecret[]> {
    const files = await readdirOrEmpty(join(this.dir, namespace));
    const out: ObservedSecret[] = [];
    for (const f of files.filter((x) => x.endsWith('.yaml'))) {
      // Synchronously, as every read of the local state (missing-ok.ts): the awaited reads one after another were four
      // thread-pool round trips per manifest.
      const m = ManifestWriter.parse(readFileSync(join(this.dir, namespace, f), 'utf8'), join(this.dir, namespace, f));
      if (isSecretManifest(m)) out.push(ManifestWriter.toObserved(m));
    }
    return out;
  }

  async getSecret(namespace: string, name: string): Promise<ObservedSecret | undefined> {
    if (this.options.sole && !(await this.manifestsIn(namespace)).has(`${name}.yaml`)) return undefined;
    const text = await readTextOrUndefined(this.fileOf(namespace, name));
    if (text === undefined) return undefined;
    const m = ManifestWriter.parse(text, this.fileOf(namespace, name));
    if (!isSecretManifest(m))
      throw new IntegrityError(`${this.fileOf(namespace, name)} is not a Secret manifest; fix or remove it`, {
        context: { path: this.fileOf(namespace, name) },
      });
    return ManifestWriter.toObserved(m);
  }

  async writeSecret(secret: DesiredSecret, options: { adopt: boolean; expected?: ObservedSecret }): Promise<WriteOutcome> {
    const existing = options.expected ?? (await this.getSecret(secret.namespace, secret.name));
    if (existing && !isManaged(existing) && !options.adopt) {
      throw new UnmanagedObjectError(
        `Secret ${secret.namespace}/${secret.name} in ${this.dir} is not managed by rekey; set adopt: true to take it over`,
      );
    }
    const manifest = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secret.name, namespace: secret.namespace, labels: { ...secret.labels }, annotations: { ...secret.annotations } },
      type: secret.type,
      data: Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
    } satisfies SecretManifest;
    // Key material on disk: owner-only, like the vault.
    const folder = join(this.dir, secret.namespace);
    await (this.options.files ?? inProcessFileWrites).writeReplacing(
      { path: this.fileOf(secret.namespace, secret.name), data: manifestYaml(manifest), mode: 0o600 },
      { folderMade: this.folders.has(folder) },
    );
    this.folders.add(folder);
    if (this.options.sole) (await this.manifestsIn(secret.namespace)).add(`${secret.name}.yaml`);
    this.writes.push(`${secret.namespace}/${secret.name}`);
    return existing ? 'updated' : 'created';
  }
}

function isSecretManifest(m: SecretManifest | { kind?: unknown } | null): m is SecretManifest {
  return m?.kind === 'Secret';
}
