import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FilePlacement } from '../../domain/inventory/model.js';
import { FileChange, type FileDrift, type HostFiles, type ReloadLedger, type ReloadOptions } from '../../ports/host-files.js';
import { writeFilesTogether } from './atomic-file.js';
import { isLinked, writeVersioned } from './versioned-files.js';
import { JsonReloadLedger } from './reload-ledger.js';
import { runReload } from './reload-command.js';
import { defined } from '../../domain/defined.js';

/** File names under the state folder. */
export const HostFilesState = { ledger: 'reloads.json', log: 'reload.log' } as const;

/** Permission bits only (no file type, no setuid/sticky: the inventory's mode is three octal digits). */
const PERMISSIONS = 0o777;

/**
 * Files on this host (seed 004's proxy), written when their content differs, chmod'ed when only their mode
 * drifted. Layout `files`: plain files, each replaced atomically, all renamed together after every new one is
 * on disk (a reader between two renames can still pair the old certificate with the new key). Layout `versioned`:
 * a version folder per write behind a `..data` symlink (see versioned-files.ts), switched in one rename. Reloads run through `sh -c` with a timeout; the owed ones are kept
 * in `<state>/reloads.json`, their output in `<state>/reload.log` (0600, PEM blocks scrubbed).
 */
export class LocalHostFiles implements HostFiles {
  readonly ledger: ReloadLedger;
  private readonly logPath: string;

  constructor(options: { stateDir: string }) {
    this.ledger = new JsonReloadLedger(join(options.stateDir, HostFilesState.ledger));
    this.logPath = join(options.stateDir, HostFilesState.log);
  }

  async check(placement: FilePlacement, files: Readonly<Record<string, string>>): Promise<FileDrift[]> {
    const drift: FileDrift[] = [];
    for (const [name, content] of Object.entries(files)) {
      const path = join(placement.dir, name);
      const current = await readFile(path, 'utf8').catch(() => undefined);
      const plainInVersioned = placement.layout === 'versioned' && !(await isLinked(placement.dir, name));
      if (current !== content || plainInVersioned) drift.push({ name, change: FileChange.Content });
      else if (((await stat(path)).mode & PERMISSIONS) !== placement.mode) drift.push({ name, change: FileChange.Mode });
    }
    return drift;
  }

  async write(placement: FilePlacement, files: Readonly<Record<string, string>>): Promise<FileDrift[]> {
    const drift = await this.check(placement, files);
    const content = drift.filter((d) => d.change === FileChange.Content);
    if (content.length && placement.layout === 'versioned') {
      // A new version holds every file (modes included): one switch, nothing left to chmod.
      const current = Object.fromEntries(
        await Promise.all(
          Object.keys(files).map(async (name) => [name, await readFile(join(placement.dir, name), 'utf8').catch(() => undefined)] as const),
        ),
      );
      await writeVersioned(placement.dir, files, placement.mode, current);
      return drift;
    }
    if (content.length)
      await writeFilesTogether(
        content.map((d) => ({ path: join(placement.dir, d.name), data: defined(files[d.name]), mode: placement.mode })),
      );
    for (const d of drift) {
      switch (d.change) {
        case FileChange.Content:
          break;
        case FileChange.Mode:
          await chmod(join(placement.dir, d.name), placement.mode);
          break;
        default: {
          const never: never = d.change;
          throw new Error(`unknown file change ${String(never)}`);
        }
      }
    }
    return drift;
  }

  reload(command: string, options: ReloadOptions): Promise<void> {
    return runReload(command, { ...options, logPath: this.logPath });
  }
}
