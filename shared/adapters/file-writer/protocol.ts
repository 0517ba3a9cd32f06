import type { FileToWrite } from '../local/atomic-file.js';
import type { FileAppend } from '../local/file-writes.js';

/** Messages between the file writer's thread and the process that uses it (thread.ts, worker.ts). */
export type ToFileWriter =
  /**
   * A group commit (writeFilesAtomic): one answer with an outcome per file; with `append`, appended once every file
   * is written, its outcome after the files' (none if a file failed).
   */
  | { readonly type: 'durably'; readonly id: number; readonly files: readonly FileToWrite[]; readonly append?: FileAppend }
  /** Files to replace without fsync, each its own request: one answer per file. */
  | { readonly type: 'replacing'; readonly files: ReadonlyArray<FileToWrite & { readonly id: number; readonly folderMade: boolean }> }
  /** An append to an existing file, fsynced (appendDurably): one answer with one outcome. */
  | { readonly type: 'append'; readonly id: number; readonly path: string; readonly data: string };

/** A file call's error as it crosses: what callers look at (code, path) kept beside the message. */
export interface ErrorOnWire {
  readonly message: string;
  readonly code?: string;
  readonly errno?: number;
  readonly syscall?: string;
  readonly path?: string;
}

export type FileOutcome = { readonly ok: true } | { readonly ok: false; readonly error: ErrorOnWire };

/** Answers, a batch per message: `outcomes` in the order of the request's files. */
export type FromFileWriter = ReadonlyArray<{ readonly id: number; readonly outcomes: readonly FileOutcome[] }>;

export function errorOnWire(e: unknown): ErrorOnWire {
  if (!(e instanceof Error)) return { message: String(e) };
  const { code, errno, syscall, path } = e as NodeJS.ErrnoException;
  return {
    message: e.message,
    ...(code !== undefined && { code }),
    ...(errno !== undefined && { errno }),
    ...(syscall !== undefined && { syscall }),
    ...(path !== undefined && { path }),
  };
}

/** The error again, as an Error with the file call's fields (callers check `code === 'ENOENT'` and the like). */
export function errorFromWire(w: ErrorOnWire): Error {
  const { message, ...fields } = w;
  return Object.assign(new Error(message), fields);
}
