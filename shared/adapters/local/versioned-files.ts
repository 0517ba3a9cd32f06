import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir } from './atomic-file.js';

/**
 * The `versioned` layout of host files, as the kubelet lays out a Secret volume: every version of the placement's
 * files is a folder of its own (`..rekey-<time>-<hex>`), `..data` is a symlink to the current one, and each file
 * name is a symlink into `..data`. One rename of `..data` switches certificate, key and CA together, so at every
 * instant the names show one version: never a certificate with another version's key.
 */

export const DATA_LINK = '..data';
const VERSION_PREFIX = '..rekey-';

/** O_EXCL|O_NOFOLLOW: a file of a new version is always new, never a symlink or file someone placed there. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The version folder's mode: the owner's, plus search for group/other where the files' mode lets them read. */
const folderMode = (mode: number): number => 0o700 | (mode & 0o040 ? 0o050 : 0) | (mode & 0o004 ? 0o005 : 0);

const tempName = (name: string) => `.${name}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;

async function readlinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return (await lstat(path)).isSymbolicLink() ? await readlink(path) : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Whether `name` in `dir` is the symlink into `..data` this layout makes. */
export async function isLinked(dir: string, name: string): Promise<boolean> {
  return (await readlinkOrUndefined(join(dir, name))) === `${DATA_LINK}/${name}`;
}

/** A new version folder holding `files`, each written with `mode` and fsynced, the folder too. */
async function stageVersion(dir: string, files: Readonly<Record<string, string>>, mode: number): Promise<string> {
  const version = `${VERSION_PREFIX}${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}`;
  const path = join(dir, version);
  await mkdir(path, { mode: folderMode(mode) });
  for (const [name, content] of Object.entries(files)) {
    const handle = await open(join(path, name), CREATE_NEW, mode);
    try {
      await handle.writeFile(content);
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  await syncDir(path);
  return version;
}

/** Points `name` at `target` with one rename (replacing a file or link there, never following it). */
async function swapLink(dir: string, name: string, target: string): Promise<void> {
  const tmp = join(dir, tempName(name));
  await symlink(target, tmp);
  await rename(tmp, join(dir, name));
}

/** Links each name not linked yet into `..data`. */
async function linkNames(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) if (!(await isLinked(dir, name))) await swapLink(dir, name, `${DATA_LINK}/${name}`);
}

/**
 * Writes `files` as the placement's new version: stage it, switch `..data` to it (the one moment readers change
 * version), link the names, keep the previous version (a reader may still have it open) and remove older ones.
 * Plain files of the `files` layout (or of something else) are first taken into a version of their own and linked,
 * so the switch of layout itself never shows a mixed pair either.
 */
export async function writeVersioned(
  dir: string,
  files: Readonly<Record<string, string>>,
  mode: number,
  current: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const names = Object.keys(files);
  const present = Object.fromEntries(Object.entries(current).filter((e): e is [string, string] => e[1] !== undefined));
  let plain = false;
  for (const name of Object.keys(present)) if (!(await isLinked(dir, name))) plain = true;
  if (plain) {
    // What readers see now (through links or plain files) becomes a version first; linking the names changes no content.
    await swapLink(dir, DATA_LINK, await stageVersion(dir, present, mode));
    await linkNames(dir, Object.keys(present));
  }
  const previous = await readlinkOrUndefined(join(dir, DATA_LINK));
  const version = await stageVersion(dir, files, mode);
  await swapLink(dir, DATA_LINK, version);
  await linkNames(dir, names);
  await syncDir(dir);
  const keep = new Set([version, previous]);
  for (const entry of await readdir(dir)) {
    if (entry.startsWith(VERSION_PREFIX) && !keep.has(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}
