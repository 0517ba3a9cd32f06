import { appendDurably, writeFileAtomic, writeFilesAtomic, type FileToWrite } from './atomic-file.js';

/**
 * How the vault's group commits and the `--out` manifests reach the disk: in process (the default), or on the file
 * writer's thread (file-writer/thread.ts, the CLI's apply), with the same guarantees either way.
 */
export interface FileWrites {
  /** writeFilesAtomic: every file durable under its name before its outcome is fulfilled; a rejected one keeps its old content. */
  writeDurably(files: readonly FileToWrite[]): Promise<PromiseSettledResult<void>[]>;
  /** writeFileAtomic without fsync: a reader sees the old or the new content, a crash may lose the new. */
  writeReplacing(file: FileToWrite, options?: { readonly folderMade?: boolean }): Promise<void>;
  /** appendDurably: `data` appended to an existing file and fsynced (the vault's index log). */
  appendDurably(path: string, data: string): Promise<void>;
  /**
   * writeDurably, then, only once every file is durable under its name, `append` as appendDurably: a vault commit
   * and its index line in one request. `appended` is undefined when a file failed (nothing was appended).
   */
  writeDurablyThenAppend(files: readonly FileToWrite[], append: FileAppend): Promise<DurableCommit>;
}

/** Text appended to an existing file. */
export interface FileAppend {
  readonly path: string;
  readonly data: string;
}

/** The outcome of writeDurablyThenAppend. */
export interface DurableCommit {
  readonly files: PromiseSettledResult<void>[];
  readonly appended: PromiseSettledResult<void> | undefined;
}

/** The append of writeDurablyThenAppend, made only if every file was written. */
export async function appendIfAllWritten(files: PromiseSettledResult<void>[], append: () => Promise<void>): Promise<DurableCommit> {
  if (files.some((f) => f.status === 'rejected')) return { files, appended: undefined };
  const [appended] = await Promise.allSettled([append()]);
  return { files, appended };
}

export const inProcessFileWrites: FileWrites = {
  writeDurably: (files) => writeFilesAtomic(files),
  writeReplacing: (file, options = {}) =>
    writeFileAtomic(file.path, file.data, { durable: false, ...(file.mode !== undefined && { mode: file.mode }), ...options }),
  appendDurably: (path, data) => appendDurably(path, data),
  writeDurablyThenAppend: async (files, append) =>
    appendIfAllWritten(await writeFilesAtomic(files), () => appendDurably(append.path, append.data)),
};
