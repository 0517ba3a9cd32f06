import type { Command } from 'commander';
import type { Inventory } from '../shared/domain/inventory/model.js';
import type { Logger } from '../shared/ports/logger.js';
import { targetFrom, type Target } from './compose.js';

/** Options every command takes. */
export interface GlobalOptions {
  readonly state: string;
  readonly json?: boolean;
  /** `local` (default) or `aws`, and the stack's names with `aws` (see cli/backend.ts). */
  readonly backend?: string;
  readonly region?: string;
  readonly table?: string;
  readonly queueUrl?: string;
  readonly eventBus?: string;
  readonly stack?: string;
}

/** What each command file receives: the global options, the logger and where a runtime failure is reported. */
export interface CliContext {
  readonly globals: () => GlobalOptions;
  readonly log: Logger;
  /** `run.exitCode` is where commands report a runtime failure (1) without throwing; main returns it. */
  readonly run: { exitCode: number };
}

/** A command module: adds one command (or a group) to the program. */
export type RegisterCommand = (cli: Command, ctx: CliContext) => void;

export const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
};
export const printJson = (value: unknown): void => out(JSON.stringify(value, null, 2));

export const targetLabel = (t: Target): string =>
  t.kind === 'out' ? t.dir : t.kind === 'kube' ? `clusters via ${t.kubeconfig ?? 'kubeconfig'}` : 'no clusters (store and host files)';

/** Where apply and rotate write: an inventory of host files only (seed 004) needs no cluster and no --out. */
export function targetFor(inv: Inventory, flags: { out?: string; kubeconfig?: string }): Target {
  const needsClusters = [...inv.items.values()].some((item) => item.secret);
  return needsClusters || flags.out || flags.kubeconfig ? targetFrom(flags, 'required') : { kind: 'none' };
}
