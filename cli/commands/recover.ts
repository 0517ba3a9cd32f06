import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { recover, RecoveryAction, type RecoverOptions, type RecoveryEntry } from '../../shared/app/recover.js';
import { DEFAULT_LEASE_MS, type LeaseSettings } from '../../shared/app/rotation/lease.js';
import { RotationStatus } from '../../shared/domain/rotation/record.js';
import type { LocalRuntime } from '../compose.js';
import { composeLocal } from '../compose.js';
import { out, printJson, targetFor, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';

/** This process's lease owner: host and pid say where it ran, the nonce tells a reused pid apart. */
export function cliLease(): LeaseSettings {
  return { owner: `cli:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`, ttlMs: DEFAULT_LEASE_MS };
}

/**
 * Recovery as every changing command runs it: the runtime holds the state folder's lock, so no other process
 * drives a rotation of this state or is between issuing and promoting; what it finds unfinished is a dead one's.
 */
export function cliRecovery(runtime: Pick<LocalRuntime, 'queue'>, lease: LeaseSettings): RecoverOptions {
  return { lease, exclusive: true, queue: runtime.queue };
}

/** One line per thing put right, for the text output of recover, apply and rotate. */
export function formatRecovery(entries: readonly RecoveryEntry[]): string[] {
  return entries.map((e) => {
    const what = e.versionId
      ? `pending version ${e.versionId} of ${e.item}`
      : e.rotationId
        ? `rotation ${e.rotationId} of ${e.item}`
        : e.item;
    const from = e.step ? ` from step ${e.step}` : '';
    const outcome = e.outcome ? ` -> ${e.outcome}` : '';
    return `recovered: ${e.action} ${what}${from}${outcome} (${e.reason})`;
  });
}

/** A resumed rotation that did not complete is a failure the caller must see. */
export const recoveryFailed = (entries: readonly RecoveryEntry[]): boolean =>
  entries.some((e) => e.action === RecoveryAction.Failed || (e.outcome !== undefined && e.outcome !== RotationStatus.Completed));

export function registerRecover(cli: Command, ctx: CliContext): void {
  cli
    .command('recover')
    .description('finish or undo what a killed rekey left: resume its rotations, discard its pending versions, free its locks')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'render Secrets as DIR/<cluster>/<namespace>/<name>.yaml')
    .option('--kubeconfig <file>', 'write into the clusters of this kubeconfig (contexts from the inventory)')
    .action(async (o: { file: string; out?: string; kubeconfig?: string }) => {
      const inv = readInventory(o.file);
      const target = targetFor(inv, o);
      const runtime = await composeLocal(inv, { stateDir: ctx.globals().state, target, log: ctx.log, keepEvents: false });
      const report = await recover(runtime.deps, inv, cliRecovery(runtime, cliLease())).finally(runtime.close);
      if (ctx.globals().json) printJson(report);
      else out(report.entries.length ? formatRecovery(report.entries).join('\n') : `inventory ${inv.name}: nothing to recover`);
      if (recoveryFailed(report.entries)) ctx.run.exitCode = 1;
    });
}
