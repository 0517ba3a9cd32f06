import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../shared/domain/errors.js';

const statOrUndefined = (path: string) => {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return 'not-a-folder' as const;
    throw e;
  }
};

const writable = (path: string): boolean => {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * Checks a folder given on the command line before any work (so a bad one writes nothing): it must be a folder,
 * or not exist yet under a folder; with `writable`, this process must be able to write it (or create it).
 * Throws a UsageError naming the option.
 */
export function checkFolderArg(option: string, path: string, options: { writable: boolean }): void {
  const s = statOrUndefined(path);
  if (s === 'not-a-folder' || (s && !s.isDirectory())) throw new UsageError(`${option} ${path}: not a folder`);
  if (s) {
    if (options.writable && !writable(path)) throw new UsageError(`${option} ${path}: folder is not writable`);
    return;
  }
  let parent = dirname(path);
  for (let p = statOrUndefined(parent); p === undefined && dirname(parent) !== parent; p = statOrUndefined(parent))
    parent = dirname(parent);
  const p = statOrUndefined(parent);
  if (p === 'not-a-folder' || (p && !p.isDirectory())) throw new UsageError(`${option} ${path}: ${parent} is not a folder`);
  if (options.writable && !writable(parent)) throw new UsageError(`${option} ${path}: cannot create it (${parent} is not writable)`);
}

/**
 * Creates a folder and its missing parents one level at a time (mkdir's recursive mode loops forever under /proc
 * on Node 20), mode 0700; a failure is a UsageError naming the option.
 */
export function createFolderArg(option: string, path: string): void {
  const missing: string[] = [];
  for (let p = path; statOrUndefined(p) === undefined && dirname(p) !== p; p = dirname(p)) missing.unshift(p);
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new UsageError(`${option} ${path}: cannot create ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}

/** `--out DIR` renders into DIR/<cluster>/...: each of those must be a folder too. */
export function checkOutFolder(dir: string, clusters: readonly string[], options: { writable: boolean }): void {
  checkFolderArg('--out', dir, options);
  for (const c of clusters) checkFolderArg('--out', join(dir, c), options);
}
