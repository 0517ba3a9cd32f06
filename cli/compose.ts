import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { FileVault } from '../shared/adapters/local/file-vault.js';
import { LocalHostFiles } from '../shared/adapters/local/host-files.js';
import { InProcessQueue } from '../shared/adapters/local/in-process-queue.js';
import { JsonJournal } from '../shared/adapters/local/json-journal.js';
import { LocalEventBus } from '../shared/adapters/local/local-event-bus.js';
import { ManifestWriter } from '../shared/adapters/local/manifest-writer.js';
import { TlsProber } from '../shared/adapters/probe/index.js';
import { acmeCaFromEnv, issuersFor } from '../shared/adapters/issuers/registry.js';
import { SigningPool, signingWorkersFrom } from '../shared/adapters/signing-pool/pool.js';
import { FileWriterThread, fileWriterThreadFrom } from '../shared/adapters/file-writer/thread.js';
import { PostgresDatabases } from '../shared/adapters/postgres/index.js';
import { loadVaultKey } from '../shared/adapters/local/vault-key.js';
import { lockState } from '../shared/adapters/local/state-lock.js';
import { removeStaleTemps } from '../shared/adapters/local/atomic-file.js';
import { checkFolderArg, checkOutFolder, createFolderArg } from './folder-args.js';
import type { Deps } from '../shared/app/deps.js';
import { ChangeCounter, countWrites, JOURNAL_READS, STORE_READS } from '../shared/app/change-counter.js';
import { UsageError } from '../shared/domain/errors.js';
import type { Inventory } from '../shared/domain/inventory/model.js';
import type { Cluster } from '../shared/ports/cluster.js';
import { systemClock } from '../shared/ports/clock.js';
import type { Logger } from '../shared/ports/logger.js';

/** Where Secrets go: manifests on disk, live clusters through a kubeconfig, or nowhere (store only). */
export type Target =
  { readonly kind: 'out'; readonly dir: string } | { readonly kind: 'kube'; readonly kubeconfig?: string } | { readonly kind: 'none' };

/** The longest wait a CLI command sleeps through; a step due later is left to a later run. */
export const CLI_MAX_WAIT_MS = 10 * 60_000;

export interface LocalRuntime {
  readonly deps: Deps;
  readonly queue: InProcessQueue;
  readonly bus: LocalEventBus;
  /** Stops the signing workers and releases the state folder (commands that change it hold `<state>/lock` until then). */
  readonly close: () => Promise<void>;
  /** Counts this process's writes to the store and journal (with the state lock held, no other process writes). */
  readonly changes: ChangeCounter;
}

/** The kubeconfig `kubectl` would use, if there is one. */
export function defaultKubeconfig(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.KUBECONFIG?.split(':').find((p) => p && existsSync(p));
  if (fromEnv) return fromEnv;
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? home : undefined;
}

/** Picks the target from the flags: --out wins, then --kubeconfig, then a default kubeconfig if `allowDefault`. */
export function targetFrom(flags: { out?: string; kubeconfig?: string }, allowDefault: 'kube' | 'none' | 'required'): Target {
  if (flags.out && flags.kubeconfig) throw new UsageError('give either --out or --kubeconfig, not both');
  if (flags.out) return { kind: 'out', dir: resolve(flags.out) };
  if (flags.kubeconfig) {
    if (!existsSync(flags.kubeconfig)) throw new UsageError(`--kubeconfig ${flags.kubeconfig}: no such file`);
    return { kind: 'kube', kubeconfig: resolve(flags.kubeconfig) };
  }
  const found = defaultKubeconfig();
  if (found && allowDefault !== 'none') return { kind: 'kube', kubeconfig: found };
  if (allowDefault === 'required')
    throw new UsageError('no target: give --out DIR to render manifests, or --kubeconfig FILE (or set KUBECONFIG) to write into clusters');
  return { kind: 'none' };
}

/**
 * The embedded composition root: file vault, JSON journal, event log, in-process queue, and the chosen target.
 * `--state` and `--out` are checked first (a file, or a folder this process cannot write, is a usage error before
 * anything is issued or stored); commands that change state then hold `<state>/lock`. `keepEvents` (default on):
 * `bus.published` holds every event, for a caller that reads them afterwards; the CLI's commands turn it off.
 */
export async function composeLocal(
  inventory: Inventory,
  options: { stateDir: string; target: Target; log: Logger; readOnly?: boolean; signal?: AbortSignal; keepEvents?: boolean },
): Promise<LocalRuntime> {
  const stateDir = resolve(options.stateDir);
  const writes = !options.readOnly;
  // The environment's settings are checked before anything is created: a bad value is a usage error, nothing written.
  const threads: Threads = writes ? { files: fileWriterThreadFrom(), signWorkers: signingWorkersFrom() } : { files: false, signWorkers: 0 };
  checkFolderArg('--state', stateDir, { writable: writes });
  if (options.target.kind === 'out')
    checkOutFolder(
      options.target.dir,
      inventory.clusters.map((c) => c.name),
      { writable: writes },
    );
  if (writes) createFolderArg('--state', stateDir);
  const release = options.readOnly ? async () => {} : await lockState(stateDir);
  try {
    return await composeLocked(inventory, options, stateDir, threads, release);
  } catch (e) {
    // A runtime that could not be built (bad REKEY_VAULT_KEY, unreachable cluster) must not keep the folder locked.
    await release();
    throw e;
  }
}

/** Threads of a run that writes: files on a thread of their own (REKEY_FILE_WRITER), signing workers (REKEY_SIGN_WORKERS). */
interface Threads {
  readonly files: boolean;
  readonly signWorkers: number;
}

async function composeLocked(
  inventory: Inventory,
  options: { target: Target; log: Logger; readOnly?: boolean; signal?: AbortSignal; keepEvents?: boolean },
  stateDir: string,
  threads: Threads,
  release: () => Promise<void>,
): Promise<LocalRuntime> {
  // Read-only commands must not create state: without a key there is nothing stored, so any key reads nothing.
  const key =
    (await loadVaultKey(stateDir, process.env, { create: !options.readOnly, warn: (m) => options.log.warn(m) })) ?? randomBytes(32);
  // Leftovers of a killed writer (the vault cleans its own folder before its first write).
  if (!options.readOnly) await Promise.all([removeStaleTemps(stateDir), removeStaleTemps(join(stateDir, 'journal'))]);
  const changes = new ChangeCounter();
  // Vault entries and manifests written on a thread of their own (REKEY_FILE_WRITER=0: in process).
  const files = threads.files ? new FileWriterThread({ log: options.log }) : undefined;
  const sole = !options.readOnly;
  const store = countWrites(new FileVault(join(stateDir, 'vault'), key, { sole, ...(files && { files }) }), STORE_READS, changes);
  const journal = countWrites(new JsonJournal(join(stateDir, 'journal')), JOURNAL_READS, changes);
  const bus = new LocalEventBus(join(stateDir, 'events.jsonl'), { keep: options.keepEvents ?? true });
  // Waits up to CLI_MAX_WAIT_MS are slept (restart polls, retries, a short propagation); longer ones (a signing key's
  // overlap) park the rotation in the journal for the next apply, scan or rotate to resume.
  const queue = new InProcessQueue(undefined, undefined, { parkBeyondMs: CLI_MAX_WAIT_MS });

  let clusters = new Map<string, Cluster>();
  let restartModule: typeof import('../shared/app/restart/index.js') | undefined;
  const { target } = options;
  if (target.kind === 'out') {
    for (const c of inventory.clusters)
      clusters.set(c.name, { name: c.name, secrets: new ManifestWriter(join(target.dir, c.name), { sole, ...(files && { files }) }) });
  } else if (target.kind === 'kube') {
    // Loaded only for live clusters: @kubernetes/client-node takes a while to import.
    const kube = await import('../shared/adapters/kube/index.js');
    clusters = await kube.connectClusters(inventory.clusters, {
      ...(target.kubeconfig && { kubeconfig: target.kubeconfig }),
      log: options.log,
    });
    restartModule = await import('../shared/app/restart/index.js');
  }

  // Own-CA leaves on worker threads once a run issues many (REKEY_SIGN_WORKERS: how many; 0: in process).
  const leafOffload = threads.signWorkers > 0 ? new SigningPool({ workers: threads.signWorkers, log: options.log }) : undefined;
  const base = {
    store,
    journal,
    queue,
    events: bus,
    clock: systemClock,
    log: options.log,
    clusters,
    hostFiles: new LocalHostFiles({ stateDir }),
    prober: new TlsProber(),
    databases: databasesOn(store),
    ...(options.signal && { signal: options.signal }),
    ...(leafOffload && { leafOffload }),
    ...issuersFor(inventory, { store, ...acmeCaFromEnv() }),
  };
  const deps: Deps = restartModule
    ? { ...base, restarts: { request: (inv, record) => restartModule.requestRestarts(deps, inv, record) } }
    : base;
  if (restartModule) {
    const m = restartModule;
    bus.subscribe((event) => m.handleRestartEvent(deps, inventory, event));
  }
  const close = async (): Promise<void> => {
    await leafOffload?.close();
    await files?.close();
    await release();
  };
  return { deps, queue, bus, close, changes };
}

/** Database sessions: `urlFrom` read from the environment, a file, or (secretsmanager:) the store rekey runs on. */
function databasesOn(store: FileVault): PostgresDatabases {
  return new PostgresDatabases({ env: process.env, readSecret: async (name) => (await store.getVersion(name))?.value });
}
