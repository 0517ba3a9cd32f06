import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

/**
 * Writes a file so that a reader sees either the old or the new content, never a mix: a temporary file in the
 * same folder, fsync, rename over the target, fsync the folder (so the rename itself survives a crash).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, options: { mode?: number; durable?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const durable = options.durable ?? true;
  const handle = await open(tmp, 'wx', options.mode ?? 0o600);
  try {
    await handle.writeFile(data);
    // A mode given explicitly must win over the umask applied at open().
    if (options.mode !== undefined) await handle.chmod(options.mode);
    if (durable) await handle.sync();
  } catch (e) {
    await handle.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  await rename(tmp, path);
  if (durable) {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}
