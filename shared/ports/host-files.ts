import type { FilePlacement } from '../domain/inventory/model.js';

/** How a file on the host differs from what the inventory and the store say it should be. */
export const FileChange = {
  /** Missing, or its bytes differ: written atomically, and the placement's reload becomes owed. */
  Content: 'content',
  /** Same bytes, other permission bits (someone chmod'ed it, or the inventory's `mode` changed): chmod only. */
  Mode: 'mode',
} as const;
export type FileChange = (typeof FileChange)[keyof typeof FileChange];

export interface FileDrift {
  /** File name inside the placement's `dir`. */
  readonly name: string;
  readonly change: FileChange;
}

/** What a reload must be given: a deadline, and a signal that cuts it short (the process group is killed). */
export interface ReloadOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * A reload that has not succeeded since the files it serves changed. Kept durably so a failed, hung or killed
 * reload is run again by the next apply or rotation instead of being forgotten once the files are in place.
 */
export interface OwedReload {
  readonly inventory: string;
  readonly command: string;
  /** The units whose files changed while it was owed. */
  readonly units: readonly string[];
  /** When it first became owed (ISO 8601). */
  readonly since: string;
  /** Failed runs so far. */
  readonly attempts: number;
  /** Why the last run failed: exit status or timeout and output sizes, never the output itself. */
  readonly lastError?: string;
}

/** The durable list of owed reloads. */
export interface ReloadLedger {
  owed(inventory: string): Promise<OwedReload[]>;
  /** Records that `command` must run (before the files are written, so a crash in between still owes it). */
  owe(inventory: string, command: string, units: readonly string[], at: Date): Promise<void>;
  /** The reload succeeded: no longer owed. */
  settle(inventory: string, command: string): Promise<void>;
  /** The reload failed: still owed, one more attempt counted. */
  failed(inventory: string, command: string, error: string): Promise<void>;
}

/** Files on a host outside Kubernetes (seed 004): written atomically with a mode, then a reload command. */
export interface HostFiles {
  /** What differs from `files` and the placement's mode; changes nothing. */
  check(placement: FilePlacement, files: Readonly<Record<string, string>>): Promise<FileDrift[]>;
  /** Writes the files whose content differs and chmods those whose mode drifted; returns what it changed. */
  write(placement: FilePlacement, files: Readonly<Record<string, string>>): Promise<FileDrift[]>;
  /**
   * Runs `command` through `sh -c` in a process group of its own, killed when the timeout or the signal fires.
   * Throws a ReloadError naming the exit status (or timeout) and output sizes; the output never reaches an error.
   */
  reload(command: string, options: ReloadOptions): Promise<void>;
  readonly ledger: ReloadLedger;
}
