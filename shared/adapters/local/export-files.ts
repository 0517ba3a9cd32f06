import { mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { RekeyError, UsageError } from '../../domain/errors.js';
import { writeFileAtomic } from './atomic-file.js';

/** A file export hands out (PEM, PKCS#12): key material, so where it lands matters. */
export interface ExportedFile {
  readonly path: string;
  readonly content: string | Buffer;
  readonly mode: number;
}

const statOrUndefined = (path: string): Stats | undefined => {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
};

/**
 * Why a folder is unsafe for private keys: someone else owns it, or others may create and replace names in it
 * (group/other writable without the sticky bit), so they could swap a file for a symlink of theirs, or read the key.
 */
function unsafeBecause(s: Stats): string | undefined {
  if (!s.isDirectory()) return 'not a folder';
  const uid = process.getuid?.();
  if (uid !== undefined && s.uid !== uid) return `owned by uid ${s.uid}, not by this user (uid ${uid})`;
  if (s.mode & 0o022 && !(s.mode & 0o1000))
    return `writable by ${s.mode & 0o020 ? 'group' : 'others'} without the sticky bit (mode 0${(s.mode & 0o7777).toString(8)})`;
  return undefined;
}

/** The folder, checked when it exists, else created (mode 0700) under a parent that passes the same check. */
function prepareFolder(dir: string): void {
  const s = statOrUndefined(dir);
  if (s) {
    const why = unsafeBecause(s);
    if (why) throw new UsageError(`--dir ${dir}: ${why}; refusing to write keys there`);
    return;
  }
  const missing: string[] = [];
  let parent = dir;
  for (; !statOrUndefined(parent) && dirname(parent) !== parent; parent = dirname(parent)) missing.unshift(parent);
  const p = statOrUndefined(parent);
  // A parent others may write without the sticky bit could swap the new folder for theirs; one owned by root
  // (/, /home, a sticky /tmp) is fine.
  if (p && (!p.isDirectory() || (p.mode & 0o022 && !(p.mode & 0o1000))))
    throw new UsageError(`--dir ${dir}: cannot create it safely under ${parent} (${unsafeBecause(p) ?? 'writable by others'})`);
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new UsageError(`--dir ${dir}: cannot create ${d} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}

/**
 * Writes exported files: each folder is checked (or created private) first, then every file goes to a fresh
 * temporary file in the same folder (O_CREAT|O_EXCL|O_NOFOLLOW, so never through a symlink or into a file someone
 * prepared) and is renamed over the name: a symlink at `D/tls.key` is replaced, never followed.
 */
export async function writeExportFiles(files: readonly ExportedFile[]): Promise<void> {
  for (const dir of new Set(files.map((f) => dirname(f.path)))) prepareFolder(dir);
  for (const f of files) {
    try {
      await writeFileAtomic(f.path, f.content, { mode: f.mode });
    } catch (cause) {
      throw new RekeyError(`cannot write ${f.path} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, {
        cause,
        context: { path: f.path },
      });
    }
  }
}
