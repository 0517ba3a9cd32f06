import { randomBytes } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { asyncFdCalls, type FdCalls } from './fd-calls.js';
import { dirname, join, basename } from 'node:path';
import { syncFilesystems } from './filesystem-sync.js';
import { readdirOrEmpty } from './missing-ok.js';
import { isPidAlive } from './process-identity.js';
import { defined } from '../../domain/defined.js';

/**
 * A temporary file of writeFileAtomic: `.<target>.<pid>-<12 hex>.tmp`. The writer's pid in the name tells a
 * leftover of a killed process (pid gone) from a write in progress; `.<target>.<12 hex>.tmp` is the older
 * naming, left only by a killed writer of an earlier rekey.
 */
const TEMP_NAME = /^\..+\.(?:(\d+)-)?[0-9a-f]{12}\.tmp$/;

/**
 * Whether open() may have created a file with fewer permission bits than `mode`: only if the process's umask
 * clears some of them. The umask is read once from /proc (process.umask() without an argument sets it twice, a
 * race with other threads); where that is not readable, every explicit mode gets its chmod.
 */
const umask = (() => {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? parseInt(defined(m[1]), 8) : 0o777;
  } catch {
    return 0o777;
  }
})();
const needsChmod = (mode: number | undefined): mode is number => mode !== undefined && (mode & umask) !== 0;

/**
 * The 12 hex digits of this process's temporary names: 6 drawn once (a process that reuses the pid of a killed one
 * does not meet its leftovers), then a counter (a random draw per file cost 6.6 µs, 130 ms of an apply of 10,000).
 */
const tempPrefix = randomBytes(3).toString('hex');
let tempCount = 0;

/** The temporary file of a write of `path`: in its folder, named after it and this process (see TEMP_NAME). */
export const tempPathOf = (path: string): string => {
  tempCount = (tempCount + 1) % 0x1000000;
  return join(dirname(path), `.${basename(path)}.${process.pid}-${tempPrefix}${tempCount.toString(16).padStart(6, '0')}.tmp`);
};

/** O_EXCL|O_NOFOLLOW: the temporary file is always new, never a symlink or file someone placed there. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes a file so that a reader sees either the old or the new content, never a mix: a temporary file in the
 * same folder, fsync, rename over the target, fsync the folder (so the rename itself survives a crash). The rename
 * replaces whatever name is at `path` (a symlink there is replaced, not followed). `folderMade`: the caller made
 * the folder already (a missing one then fails the write rather than being made again). `calls`: how the file calls
 * are made (the file writer's thread makes them synchronously).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Buffer,
  options: { mode?: number; durable?: boolean; folderMade?: boolean; calls?: FdCalls } = {},
): Promise<void> {
  const c = options.calls ?? asyncFdCalls;
  const dir = dirname(path);
  if (!options.folderMade) await c.makeFolder(dir);
  const tmp = tempPathOf(path);
  const durable = options.durable ?? true;
  const open = () => c.openFd(tmp, CREATE_NEW, options.mode ?? 0o600);
  let fd: number;
  try {
    fd = await open();
  } catch (e) {
    // Removed since the caller made it: made again, as without `folderMade`.
    if (!options.folderMade || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await c.makeFolder(dir);
    fd = await open();
  }
  try {
    await c.writeAllFd(fd, data);
    // A mode given explicitly must win over the umask applied at open() (the file is new: open() gave it `mode`
    // less the umask's bits, so only a umask that clears some of them needs the chmod).
    if (needsChmod(options.mode)) await c.fchmodFd(fd, options.mode);
    if (durable) await c.fsyncFd(fd);
  } catch (e) {
    await discardTemp(fd, tmp, c);
    throw e;
  }
  await c.closeFd(fd);
  await renameOrDiscard(tmp, path, c);
  if (durable) await syncDir(dir, c);
}

/**
 * Group commit: writes many files as writeFileAtomic would, each through its own temporary file and rename, all at
 * once, then fsyncs each folder once. Every temporary file is durable before any rename: a batch of at least
 * FILESYSTEM_SYNC_MIN_FILES gets one sync of its filesystem (syncfs) for all of them, a smaller one (or where that
 * sync is not available) an fsync per file. Returns each file's outcome, in order: a fulfilled file is durable under
 * its name; a rejected one is its old content (never a mix), as with writeFileAtomic.
 */
export async function writeFilesAtomic(
  files: ReadonlyArray<FileToWrite>,
  c: FdCalls = asyncFdCalls,
): Promise<PromiseSettledResult<void>[]> {
  const dirs = [...new Set(files.map((f) => dirname(f.path)))];
  await Promise.all(dirs.map(async (d) => c.makeFolder(d)));
  const staged = await Promise.allSettled(files.map((f) => stageFile(f, c)));
  const written = staged.filter((s) => s.status === 'fulfilled').length;
  const synced = written >= FILESYSTEM_SYNC_MIN_FILES && (await syncFilesystems(dirs));
  const results = await Promise.allSettled(
    files.map(async (f, i) => {
      const s = defined(staged[i]);
      if (s.status === 'rejected') throw s.reason;
      const { fd, tmp } = s.value;
      try {
        if (!synced) await c.fsyncFd(fd);
      } catch (e) {
        await discardTemp(fd, tmp, c);
        throw e;
      }
      await c.closeFd(fd);
      if (tmp !== f.path) await renameOrDiscard(tmp, f.path, c);
    }),
  );
  // The renames of the files that made it are made durable even when another file failed.
  await Promise.all(dirs.map((d) => syncDir(d, c)));
  return results;
}

/** A file for writeFilesAtomic: its path, content and mode (default 0600). */
export interface FileToWrite {
  readonly path: string;
  readonly data: string | Buffer;
  readonly mode?: number;
  /**
   * No file is at `path`, and one found there damaged later counts as never written (the vault's entry of a name its
   * index does not know): the file is made in place, with no temporary file and no rename (on ext4 the temporary
   * name and its rename were a third of a group commit's filesystem time). A file there after all: the write goes
   * through a temporary file as any other.
   */
  readonly fresh?: boolean;
}

/**
 * A file's temporary copy, written and still open (not yet durable); removed again if the write fails. A `fresh`
 * file's "temporary copy" is the file itself, made here (O_EXCL: never one that was there before).
 */
async function stageFile(f: FileToWrite, c: FdCalls = asyncFdCalls) {
  let tmp = f.fresh ? f.path : tempPathOf(f.path);
  let fd: number;
  try {
    fd = await c.openFd(tmp, CREATE_NEW, f.mode ?? 0o600);
  } catch (e) {
    if (tmp !== f.path || (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    tmp = tempPathOf(f.path);
    fd = await c.openFd(tmp, CREATE_NEW, f.mode ?? 0o600);
  }
  try {
    await c.writeAllFd(fd, f.data);
    if (needsChmod(f.mode)) await c.fchmodFd(fd, f.mode);
  } catch (e) {
    await discardTemp(fd, tmp, c);
    throw e;
  }
  return { fd, tmp };
}

/**
 * From this many files on, one sync of the whole filesystem costs less than an fsync per file (each fsync waits for
 * a journal commit of its own, shared or not); below it the filesystem's other dirty data is not worth flushing.
 */
export const FILESYSTEM_SYNC_MIN_FILES = 32;

/**
 * Writes files that belong together (a certificate and its key): every temporary file written and fsynced first,
 * then the renames one right after the other, in order, then one fsync of each folder. No order of two renames is
 * safe for a reader that reads between them; this keeps that window to the renames alone (no write or fsync inside
 * it). The `versioned` layout of host files closes it.
 */
export async function writeFilesTogether(
  files: ReadonlyArray<{ readonly path: string; readonly data: string; readonly mode: number }>,
): Promise<void> {
  const staged: { tmp: string; path: string }[] = [];
  try {
    for (const f of files) {
      await asyncFdCalls.makeFolder(dirname(f.path));
      const { fd, tmp } = await stageFile(f);
      staged.push({ tmp, path: f.path });
      try {
        await asyncFdCalls.fsyncFd(fd);
      } finally {
        await asyncFdCalls.closeFd(fd);
      }
    }
  } catch (e) {
    await Promise.all(staged.map(async (s) => asyncFdCalls.removeFile(s.tmp)));
    throw e;
  }
  for (const [i, s] of staged.entries()) {
    try {
      await asyncFdCalls.renamePath(s.tmp, s.path);
    } catch (e) {
      // This file and the ones not renamed yet keep their old content; their temporary files go.
      await Promise.all(staged.slice(i).map(async (t) => asyncFdCalls.removeFile(t.tmp)));
      throw e;
    }
  }
  await Promise.all([...new Set(files.map((f) => dirname(f.path)))].map((d) => syncDir(d)));
}

/** A temporary file whose write failed: closed and removed (the target keeps its old content). */
async function discardTemp(fd: number, tmp: string, c: FdCalls): Promise<void> {
  await c.closeFd(fd);
  await c.removeFile(tmp);
}

/** The rename that publishes a temporary file; if it fails (a folder in the way), the temporary file goes. */
async function renameOrDiscard(tmp: string, path: string, c: FdCalls): Promise<void> {
  try {
    await c.renamePath(tmp, path);
  } catch (e) {
    await c.removeFile(tmp);
    throw e;
  }
}

/** Appends to an existing file and fsyncs it (the file itself is already durable under its name). */
export async function appendDurably(path: string, data: string | Buffer, c: FdCalls = asyncFdCalls): Promise<void> {
  const fd = await c.openFd(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
  try {
    await c.writeAllFd(fd, data);
    await c.fsyncFd(fd);
  } finally {
    await c.closeFd(fd);
  }
}

/** fsync of a folder: its renames and new names survive a crash. */
export async function syncDir(dir: string, c: FdCalls = asyncFdCalls): Promise<void> {
  const fd = await c.openFd(dir, 'r');
  try {
    await c.fsyncFd(fd);
  } finally {
    await c.closeFd(fd);
  }
}

/**
 * Removes the temporary files a killed writeFileAtomic left in `dir`: only names of its own pattern, and only
 * those whose writer is gone (a pid reused since leaves a file behind until a later run, which is harmless).
 * Returns how many were removed.
 */
export async function removeStaleTemps(dir: string): Promise<number> {
  const stale = (await readdirOrEmpty(dir)).filter((name) => {
    const m = TEMP_NAME.exec(name);
    if (!m) return false;
    const pid = m[1] === undefined ? undefined : Number(m[1]);
    return pid === undefined || (pid !== process.pid && !isPidAlive(pid));
  });
  await Promise.all(stale.map((name) => rm(join(dir, name), { force: true })));
  return stale.length;
}
