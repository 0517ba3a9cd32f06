import { Worker } from 'node:worker_threads';
import { RekeyError, UsageError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import type { FileToWrite } from '../local/atomic-file.js';
import { inProcessFileWrites, type DurableCommit, type FileAppend, type FileWrites } from '../local/file-writes.js';
import { TurnBatch } from '../turn-batch.js';
import { workerEntry, type WorkerEntry } from '../worker-entry.js';
import { errorFromWire, type FileOutcome, type FromFileWriter, type ToFileWriter } from './protocol.js';

/** A write failed because the file writer's thread stopped; the file may keep its old content or have the new. */
export class FileWriterError extends RekeyError {}

/** The file writer's code: dist/rekey-file-worker.mjs beside the bundle, or worker.ts from source. */
export const fileWriterEntry = (here: string = import.meta.url): WorkerEntry => workerEntry(here, './worker.ts', 'rekey-file-worker.mjs');

/** `REKEY_FILE_WRITER`: `1` or unset, files are written on a thread of their own; `0`, in process. */
export function fileWriterThreadFrom(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env.REKEY_FILE_WRITER?.trim();
  if (raw === undefined || raw === '' || raw === '1') return true;
  if (raw === '0') return false;
  throw new UsageError(`REKEY_FILE_WRITER=${raw}: expected 1 (files written on a thread of their own) or 0 (in process)`);
}

type Replacing = FileToWrite & { readonly id: number; readonly folderMade: boolean };

const settledOf = (o: FileOutcome): PromiseSettledResult<void> =>
  o.ok ? { status: 'fulfilled', value: undefined } : { status: 'rejected', reason: errorFromWire(o.error) };

/**
 * Files written in process first: the thread pays only for many. Its start costs 80-90 ms from the bundle (370 ms
 * from source through tsx), more than a run of a few dozen secrets spends on its files.
 */
export const IN_PROCESS_FILES = 128;

/**
 * FileWrites on a thread of their own: the calls are made there synchronously, so the main thread spends one
 * message per batch instead of a thread-pool hand-over and a callback per call (four per file). An apply of 10,000
 * certificates writes 20,000 files. Writes asked for in one turn of the event loop go in one message. The first
 * `inProcessFiles` files are written in process; the thread starts on the next; idle, it does not keep the process
 * alive. If the thread stops, its pending writes fail and later ones are made in process.
 */
export class FileWriterThread implements FileWrites {
  private worker: Worker | undefined;
  private stopped = false;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (outcomes: readonly FileOutcome[]) => void; reject: (e: Error) => void }>();
  /** Files to replace asked for in this turn of the event loop: one message for them all. */
  private readonly replacing = new TurnBatch<Replacing>((files) => this.post({ type: 'replacing', files }));
  private readonly idleWaiters: Array<() => void> = [];
  private sent = 0;
  private asked = 0;

  constructor(private readonly options: { readonly log?: Logger; readonly entry?: WorkerEntry; readonly inProcessFiles?: number } = {}) {}

  /** Whether these files are written in process: the thread stopped, or the run has not written many yet. */
  private inProcess(files: number): boolean {
    this.asked += files;
    return this.stopped || this.asked <= (this.options.inProcessFiles ?? IN_PROCESS_FILES);
  }

  async writeDurably(files: readonly FileToWrite[]): Promise<PromiseSettledResult<void>[]> {
    if (this.inProcess(files.length)) return inProcessFileWrites.writeDurably(files);
    try {
      return await this.durably(files);
    } catch (e) {
      return files.map(() => ({ status: 'rejected', reason: e }));
    }
  }

  async writeDurablyThenAppend(files: readonly FileToWrite[], append: FileAppend): Promise<DurableCommit> {
    if (this.inProcess(files.length + 1)) return inProcessFileWrites.writeDurablyThenAppend(files, append);
    let settled: PromiseSettledResult<void>[];
    try {
      settled = await this.durably(files, append);
    } catch (e) {
      // The thread stopped: the files may or may not be written, the line may or may not be appended.
      return { files: files.map(() => ({ status: 'rejected', reason: e })), appended: { status: 'rejected', reason: e } };
    }
    return { files: settled.slice(0, files.length), appended: settled[files.length] };
  }

  /** A group commit on the thread: an outcome per file, then the append's if it was made; throws if the thread stopped. */
  private async durably(files: readonly FileToWrite[], append?: FileAppend): Promise<PromiseSettledResult<void>[]> {
    const id = this.nextId++;
    const outcomes = this.await(id);
    this.post({ type: 'durably', id, files, ...(append && { append }) });
    return (await outcomes).map(settledOf);
  }

  async writeReplacing(file: FileToWrite, options: { readonly folderMade?: boolean } = {}): Promise<void> {
    if (this.inProcess(1)) return inProcessFileWrites.writeReplacing(file, options);
    const id = this.nextId++;
    const outcomes = this.await(id);
    this.replacing.push({
      path: file.path,
      data: file.data,
      ...(file.mode !== undefined && { mode: file.mode }),
      id,
      folderMade: options.folderMade ?? false,
    });
    const [outcome] = await outcomes;
    if (outcome && !outcome.ok) throw errorFromWire(outcome.error);
  }

  async appendDurably(path: string, data: string): Promise<void> {
    if (this.inProcess(1)) return inProcessFileWrites.appendDurably(path, data);
    const id = this.nextId++;
    const outcomes = this.await(id);
    this.post({ type: 'append', id, path, data });
    const [outcome] = await outcomes;
    if (outcome && !outcome.ok) throw errorFromWire(outcome.error);
  }

  /** Waits for the writes asked for so far, then stops the thread. Later writes are made in process. */
  async close(): Promise<void> {
    if (this.pending.size) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.stopped = true;
    await this.worker?.terminate();
  }

  /** Whether the thread is running, and how many messages it was sent (for tests). */
  get running(): boolean {
    return this.worker !== undefined && !this.stopped;
  }

  get messagesSent(): number {
    return this.sent;
  }

  private await(id: number): Promise<readonly FileOutcome[]> {
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  private post(m: ToFileWriter): void {
    const worker = (this.worker ??= this.start());
    worker.ref();
    worker.postMessage(m);
    this.sent++;
  }

  private start(): Worker {
    const entry = this.options.entry ?? fileWriterEntry();
    // The parent's flags (a tsx --import, --cpu-prof) are not the worker's business.
    const worker = new Worker(entry.url, { workerData: entry.workerData, execArgv: [] });
    this.options.log?.debug('writing files on a thread of their own', { inProcessFirst: this.options.inProcessFiles ?? IN_PROCESS_FILES });
    let failure: Error | undefined;
    worker.on('message', (answers: FromFileWriter) => {
      for (const a of answers) {
        this.pending.get(a.id)?.resolve(a.outcomes);
        this.pending.delete(a.id);
      }
      this.settled(worker);
    });
    worker.on('error', (e) => {
      failure = e;
    });
    worker.on('exit', (code) => {
      const closing = this.stopped;
      this.stopped = true;
      if (closing || this.pending.size === 0) return;
      const why = `the file writer's thread stopped (exit code ${code}${failure ? `: ${failure.message}` : ''})`;
      this.options.log?.warn(`${why}; its writes failed, later ones are made in process`);
      for (const [id, { reject }] of this.pending) {
        this.pending.delete(id);
        reject(new FileWriterError(`${why}; the file may have its old or its new content`, { cause: failure }));
      }
      this.settled(worker);
    });
    return worker;
  }

  private settled(worker: Worker): void {
    if (this.pending.size) return;
    worker.unref();
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
