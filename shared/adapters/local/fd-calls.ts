import {
  close,
  closeSync,
  fchmod,
  fchmodSync,
  fsync,
  fsyncSync,
  mkdirSync,
  open,
  openSync,
  rename,
  renameSync,
  rmSync,
  write,
  writeSync,
} from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';

/**
 * The few file calls of the atomic writers (atomic-file.ts). Two sets: `asyncFdCalls` for the main thread (libuv's
 * thread pool does the call), `syncFdCalls` for the file writer's own thread (file-writer/worker.ts), where a call
 * that blocks blocks nobody else and skips the pool's hand-over (a wake-up and a callback per call).
 */
export interface FdCalls {
  openFd(path: string, flags: number | string, mode?: number): Promise<number> | number;
  closeFd(fd: number): Promise<void> | void;
  fsyncFd(fd: number): Promise<void> | void;
  fchmodFd(fd: number, mode: number): Promise<void> | void;
  renamePath(from: string, to: string): Promise<void> | void;
  /** Writes all of `data` at the descriptor's position: one call for the usual small file, repeated if short. */
  writeAllFd(fd: number, data: string | Buffer): Promise<void> | void;
  makeFolder(dir: string): Promise<void> | void;
  removeFile(path: string): Promise<void> | void;
}

/**
 * Over plain file descriptors with Node's callback API. FileHandle (the promise API) costs three to four times as
 * much main-thread CPU per file (an object per handle, its close-on-GC tracking, a promise per call): measured at
 * 10,000 small files, 620-870 ms against 190-220 ms. Every descriptor opened here is closed by its caller on every path.
 */
const settle =
  <T>(resolve: (v: T) => void, reject: (e: unknown) => void) =>
  (e: NodeJS.ErrnoException | null, v: T): void => {
    if (e) reject(e);
    else resolve(v);
  };
const done =
  (resolve: () => void, reject: (e: unknown) => void) =>
  (e: NodeJS.ErrnoException | null): void =>
    e ? reject(e) : resolve();

export const asyncFdCalls: FdCalls = {
  openFd: (path, flags, mode) => new Promise((resolve, reject) => open(path, flags, mode, settle(resolve, reject))),
  closeFd: (fd) => new Promise((resolve, reject) => close(fd, done(resolve, reject))),
  fsyncFd: (fd) => new Promise((resolve, reject) => fsync(fd, done(resolve, reject))),
  fchmodFd: (fd, mode) => new Promise((resolve, reject) => fchmod(fd, mode, done(resolve, reject))),
  renamePath: (from, to) => new Promise((resolve, reject) => rename(from, to, done(resolve, reject))),
  async writeAllFd(fd, data) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let at = 0; at < bytes.length;) {
      at += await new Promise<number>((resolve, reject) => write(fd, bytes, at, bytes.length - at, null, settle(resolve, reject)));
    }
  },
  makeFolder: async (dir) => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  },
  removeFile: (path) => rm(path, { force: true }),
};

export const syncFdCalls: FdCalls = {
  openFd: (path, flags, mode) => openSync(path, flags, mode),
  closeFd: (fd) => closeSync(fd),
  fsyncFd: (fd) => fsyncSync(fd),
  fchmodFd: (fd, mode) => fchmodSync(fd, mode),
  renamePath: (from, to) => renameSync(from, to),
  writeAllFd(fd, data) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at, null);
  },
  makeFolder: (dir) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  },
  removeFile: (path) => rmSync(path, { force: true }),
};
