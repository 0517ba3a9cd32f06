import type { FilePlacement } from '../domain/inventory/model.js';

/** Files on a host outside Kubernetes (seed 004): written atomically with a mode, then a reload command. */
export interface HostFiles {
  /** Writes the files that differ; returns the names written (empty: nothing changed). */
  write(placement: FilePlacement, files: Readonly<Record<string, string>>): Promise<string[]>;
  /** Runs the placement's reload command; throws with its exit status and stderr on failure. */
  reload(command: string): Promise<void>;
}
