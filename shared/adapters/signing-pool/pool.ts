import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Issuer as Signer } from '../../domain/pki/certificate.js';
import type { LeafOrder, MadeLeaf } from '../../domain/pki/leaf-issue.js';
import { RekeyError, UsageError } from '../../domain/errors.js';
import type { LeafOffload } from '../../ports/leaf-offload.js';
import type { Logger } from '../../ports/logger.js';
import { asBuffer, type FromWorker, type LeafOnWire, type ToWorker } from './protocol.js';
import { workerEntry, type WorkerEntry } from '../worker-entry.js';

/**
 * Leaves made in process before the pool starts its workers: a run that issues a few leaves (one rotation, a small
 * inventory) pays no worker start, one that issues many (apply of a large inventory, a CA's children) moves them off
 * the main thread, which then has the vault, the files and the sync to itself.
 */
export const IN_PROCESS_LEAVES = 32;

/**
 * Leaves one worker may have queued or in the making, as the worker counts them (answers still waiting for the
 * main thread's event loop do not count): apply's leaf concurrency, so every leaf of a run goes to a worker that
 * keeps up. One turn of the main thread starts as many leaves as a group commit of the vault just finished (up to
 * all of them); a smaller bound sent a quarter of them back to the main thread. Past it the main thread makes the
 * leaf itself, so a worker that falls a whole walk behind (starved of CPU) does not hold up the run.
 */
export const LEAVES_PER_WORKER = 512;

/**
 * Issuer keys one worker holds at most, the least recently used dropped first: `rekey serve` reads its CAs again
 * for each request, and a worker that kept every issuer it was sent would grow for as long as the server runs.
 */
export const ISSUERS_PER_WORKER = 16;

export interface SigningPoolOptions {
  /** Worker threads to start (at least 1). */
  readonly workers: number;
  /** Leaves made in process first (default IN_PROCESS_LEAVES). */
  readonly inProcessLeaves?: number;
  readonly log?: Logger;
  /** Leaves one worker holds at most (default LEAVES_PER_WORKER); past that, leaves are made in process. */
  readonly leavesPerWorker?: number;
  /** Default: `signingWorkerEntry()`. */
  readonly entry?: WorkerEntry;
  /** Issuer keys one worker holds at most (default ISSUERS_PER_WORKER). */
  readonly issuersPerWorker?: number;
}

/** A leaf failed because its worker stopped or could not make it; nothing was issued. */
export class SigningWorkerError extends RekeyError {}

interface PendingLeaf {
  readonly resolve: (made: MadeLeaf) => void;
  readonly reject: (e: Error) => void;
}

interface PoolWorker {
  readonly worker: Worker;
  /** Leaves sent and not yet answered to this thread: the answers may wait for the main thread's event loop. */
  readonly pending: Map<number, PendingLeaf>;
  /** Leaves sent, and leaves the worker has answered (it counts them itself, so no waiting answer is counted as work). */
  sent: number;
  readonly answered: Int32Array;
  /** Ids of the issuers whose key this worker holds, least recently used first. */
  readonly issuers: Set<number>;
  /** Set once it stopped: no more leaves go to it. */
  stopped: boolean;
}

/**
 * `REKEY_SIGN_WORKERS`: how many signing workers (0: none, every leaf in process). Default: one per core but one,
 * at least one (the main thread keeps a core for the store and the files).
 */
export function signingWorkersFrom(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.REKEY_SIGN_WORKERS?.trim();
  if (raw === undefined || raw === '') return Math.max(1, availableParallelism() - 1);
  if (!/^\d{1,3}$/.test(raw)) throw new UsageError(`REKEY_SIGN_WORKERS=${raw}: expected a number of worker threads (0: none)`);
  return Number(raw);
}

/** The signing worker's code: dist/rekey-sign-worker.mjs beside the bundle, or worker.ts from source. */
export const signingWorkerEntry = (here: string = import.meta.url): WorkerEntry =>
  workerEntry(here, './worker.ts', 'rekey-sign-worker.mjs');

/**
 * A small pool of worker threads that make own-CA leaves: key generation, certificate build, signature and its
 * check under the issuer's certificate. Workers start on the first leaf past `inProcessLeaves`; each leaf goes to
 * the worker with the fewest queued, or is made in process while every worker has `leavesPerWorker` queued. A worker that stops fails its leaves (SigningWorkerError) and takes no more;
 * with none left, leaves are made in process again. Idle workers do not keep the process alive.
 */
export class SigningPool implements LeafOffload {
  private readonly size: number;
  private readonly inProcessLeaves: number;
  private readonly leavesPerWorker: number;
  private readonly log: Logger | undefined;
  private readonly entry: WorkerEntry;
  private readonly issuersPerWorker: number;
  private workers: PoolWorker[] | undefined;
  private asked = 0;
  private offloaded = 0;
  private nextLeaf = 1;
  private nextIssuer = 1;
  /** An issuer's id by its object, and by its certificate and key: the same CA read again (a new object) keeps its id. */
  private readonly issuerIds = new WeakMap<Signer, number>();
  private readonly issuerIdsByCertificate = new Map<string, { readonly id: number; readonly privateKey: Signer['privateKey'] }>();
  private issuersSent = 0;
  private issuersForgotten = 0;
  private closed = false;

  constructor(options: SigningPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new Error(`a signing pool needs at least one worker`);
    this.size = options.workers;
    this.inProcessLeaves = options.inProcessLeaves ?? IN_PROCESS_LEAVES;
    this.leavesPerWorker = options.leavesPerWorker ?? LEAVES_PER_WORKER;
    this.log = options.log;
    this.entry = options.entry ?? signingWorkerEntry();
    this.issuersPerWorker = options.issuersPerWorker ?? ISSUERS_PER_WORKER;
    if (!Number.isInteger(this.issuersPerWorker) || this.issuersPerWorker < 1)
      throw new Error(`a signing worker must hold at least one issuer`);
  }

  make(order: LeafOrder, signer: Signer): Promise<MadeLeaf> | undefined {
    if (this.closed || ++this.asked <= this.inProcessLeaves) return undefined;
    this.workers ??= this.start();
    let target: PoolWorker | undefined;
    let least = Infinity;
    for (const w of this.workers) {
      const queued = w.sent - Atomics.load(w.answered, 0);
      if (!w.stopped && queued < least) [target, least] = [w, queued];
    }
    return target && least < this.leavesPerWorker ? this.send(target, order, signer) : undefined;
  }

  async close(): Promise<void> {
    if (!this.closed && this.workers) this.log?.debug('signing workers stopped', { leaves: this.asked, onWorkers: this.offloaded });
    this.closed = true;
    // Leaves in flight fail now, not when the thread exits: an answer already on its way would otherwise win the race.
    for (const w of this.workers ?? []) this.failPending(w, 'the signing pool was closed');
    await Promise.all((this.workers ?? []).map((w) => w.worker.terminate()));
  }

  /** Threads started so far and still running (for tests and the bench). */
  get running(): number {
    return (this.workers ?? []).filter((w) => !w.stopped).length;
  }

  /** Issuer keys sent to workers and dropped by them, over the pool's life (for tests). */
  get issuerMessages(): { readonly sent: number; readonly forgotten: number } {
    return { sent: this.issuersSent, forgotten: this.issuersForgotten };
  }

  private start(): PoolWorker[] {
    this.log?.debug('signing leaves on worker threads', { workers: this.size });
    return Array.from({ length: this.size }, () => this.startOne());
  }

  private startOne(): PoolWorker {
    const worker = new Worker(this.entry.url, {
      workerData: this.entry.workerData,
      // The parent's flags (a tsx --import, --cpu-prof) are not the worker's business.
      execArgv: [],
    });
    const w: PoolWorker = {
      worker,
      pending: new Map(),
      sent: 0,
      answered: new Int32Array(new SharedArrayBuffer(4)),
      issuers: new Set(),
      stopped: false,
    };
    post(w, { type: 'counter', answered: w.answered });
    worker.unref();
    let failure: Error | undefined;
    worker.on('message', (answers: FromWorker) => {
      for (const m of answers) {
        const leaf = w.pending.get(m.id);
        if (!leaf) continue;
        w.pending.delete(m.id);
        if (m.error !== undefined) leaf.reject(new SigningWorkerError(`the signing worker could not make the leaf: ${m.error}`));
        else leaf.resolve(revive(m.made));
      }
      if (w.pending.size === 0) worker.unref();
    });
    worker.on('error', (e) => {
      failure = e;
    });
    // A message that cannot be read back belongs to no leaf it can name: stop the worker, which fails its leaves.
    worker.on('messageerror', (e) => {
      failure = e;
      void worker.terminate();
    });
    worker.on('exit', (code) => {
      w.stopped = true;
      const why = this.closed
        ? 'the signing pool was closed'
        : `the signing worker stopped (exit code ${code}${failure ? `: ${failure.message}` : ''})`;
      if (!this.closed) this.log?.warn(`${why}; its leaves failed, later ones go to the other workers or are made in process`);
      this.failPending(w, why, failure);
    });
    return w;
  }

  private failPending(w: PoolWorker, why: string, cause?: Error): void {
    for (const leaf of w.pending.values()) leaf.reject(new SigningWorkerError(`${why}; the leaf was not issued`, { cause }));
    w.pending.clear();
  }

  private idOf(signer: Signer): number {
    let id = this.issuerIds.get(signer);
    if (id === undefined) {
      const certificate = createHash('sha256').update(signer.certificateDer).digest('base64');
      const known = this.issuerIdsByCertificate.get(certificate);
      id = known?.privateKey.equals(signer.privateKey) ? known.id : this.nextIssuer++;
      if (id !== known?.id) this.issuerIdsByCertificate.set(certificate, { id, privateKey: signer.privateKey });
      this.issuerIds.set(signer, id);
    }
    return id;
  }

  private send(w: PoolWorker, order: LeafOrder, signer: Signer): Promise<MadeLeaf> {
    const issuer = this.idOf(signer);
    if (w.issuers.delete(issuer)) w.issuers.add(issuer);
    else {
      for (const oldest of w.issuers) {
        if (w.issuers.size < this.issuersPerWorker) break;
        w.issuers.delete(oldest);
        post(w, { type: 'forget', id: oldest });
        this.issuersForgotten++;
      }
      const { certificateDer, subjectName, keyId, privateKey, notAfter } = signer;
      post(w, { type: 'issuer', id: issuer, certificateDer, subjectName, keyId, privateKey, notAfter });
      w.issuers.add(issuer);
      this.issuersSent++;
    }
    const id = this.nextLeaf++;
    this.offloaded++;
    w.sent++;
    return new Promise<MadeLeaf>((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      w.worker.ref();
      post(w, { type: 'leaf', id, issuer, order });
    });
  }
}

function post(w: PoolWorker, message: ToWorker): void {
  w.worker.postMessage(message);
}

/** The Buffers of a made leaf, which crossed as Uint8Arrays. */
function revive(made: LeafOnWire): MadeLeaf {
  return { ...made, tbs: asBuffer(made.tbs), signature: asBuffer(made.signature) };
}
