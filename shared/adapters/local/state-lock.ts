import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RekeyError } from '../../domain/errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One writer per state folder: `<state>/lock` holds the pid of the rekey process that changes the vault. A lock
 * left by a process that is gone (killed) is taken over. Returns the release function.
 */
export async function lockState(stateDir: string): Promise<() => Promise<void>> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (holder && holder !== process.pid && alive(holder)) {
        throw new RekeyError(`another rekey process (pid ${holder}) is changing ${stateDir}; try again when it has finished`, { retryable: true });
      }
      await rm(path, { force: true });
    }
  }
  throw new RekeyError(`cannot lock ${stateDir}`);
}
