import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** A folder's entries; none when the folder does not exist yet. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

/**
 * A file's text; undefined when it does not exist. Read synchronously: the local state's files are small, and one
 * blocking read costs less than the four thread-pool round trips (open, stat, read, close) of an asynchronous one.
 */
export async function readTextOrUndefined(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}
