import type { Command } from 'commander';
import { driveRotations, startRotation } from '../../shared/app/rotation/index.js';
import { status } from '../../shared/app/status.js';
import { UsageError } from '../../shared/domain/errors.js';
import { RotationStatus, Trigger } from '../../shared/domain/rotation/record.js';
import { isAwsBackend } from '../backend.js';
import { composeLocal } from '../compose.js';
import { rotateOnStack } from '../rotate-on-stack.js';
import { out, printJson, targetFor, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';
import { progressFor } from '../progress.js';
import { recover, RecoveryAction } from '../../shared/app/recover.js';
import { cliLease, cliRecovery, formatRecovery } from './recover.js';
import { defined } from '../../shared/domain/defined.js';

export function registerRotate(cli: Command, ctx: CliContext): void {
  cli
    .command('rotate')
    .description('rotate an item now, step by step, into the same targets as apply')
    .argument('<name>', 'certificate, authority or credential')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'render Secrets as DIR/<cluster>/<namespace>/<name>.yaml')
    .option('--kubeconfig <file>', 'write into the clusters of this kubeconfig')
    .option('--reason <text>', 'why (recorded in the journal and events)', 'manual rotation')
    .option('--wait', "with --backend aws: read the journal until the stack's workers have finished it")
    .action(async (name: string, o: { file: string; out?: string; kubeconfig?: string; reason: string; wait?: boolean }) => {
      const inv = readInventory(o.file);
      if (!inv.items.has(name)) throw new UsageError(`no authority, certificate or credential named "${name}" in ${o.file}`);
      // A deployed stack: queue the first step for its workers; never drive or recover here.
      if (isAwsBackend(ctx)) {
        await rotateOnStack(ctx, inv, name, o);
        return;
      }
      const target = targetFor(inv, o);
      const json = Boolean(ctx.globals().json);
      const progress = progressFor(json);
      const { deps, queue, close } = await composeLocal(inv, { stateDir: ctx.globals().state, target, log: ctx.log, keepEvents: false });
      const { before, after, final } = await (async () => {
        // What a killed run left (this item's rotation stuck "running", a pending version locking it) goes first.
        const lease = cliLease();
        const recovered = await recover(deps, inv, cliRecovery({ queue }, lease));
        if (!json) for (const line of formatRecovery(recovered.entries)) out(line);
        const before = await status(deps, inv);
        // A rotation of this item left running (a signing key waiting out its overlap) was resumed by recovery: that
        // one is what this run reports; no second one starts.
        const waiting = recovered.entries.find((e) => e.item === name && e.action === RecoveryAction.Resumed && e.rotationId);
        const record = waiting?.rotationId
          ? { id: waiting.rotationId }
          : await startRotation(deps, inv, name, { trigger: Trigger.Manual, reason: o.reason, lease });
        if (!json) out(waiting ? `rotation ${record.id} of ${name} resumed` : `rotation ${record.id} of ${name} started`);
        await driveRotations(deps, inv, queue, {
          lease,
          onStep: (m) => progress.update(`${name}: ${m.step}${m.attempt ? ` (check ${m.attempt})` : ''}`),
        });
        progress.done();
        return { before, final: defined(await deps.journal.get(record.id)), after: await status(deps, inv) };
      })().finally(close);
      if (json)
        printJson({
          rotation: final,
          before: before.filter((s) => s.name.split('/')[0] === name),
          after: after.filter((s) => s.name.split('/')[0] === name),
        });
      else {
        for (const h of final.history) out(`  ${h.status.padEnd(9)} ${h.step}${h.message ? `: ${h.message}` : ''}`);
        for (const a of after.filter((s) => s.name.split('/')[0] === name)) {
          const b = before.find((x) => x.name === a.name);
          out(
            `  ${a.name}: ${b?.serial ? `serial ${b.serial.slice(0, 16)} -> ` : ''}${a.serial ? `serial ${a.serial.slice(0, 16)}` : `version ${a.version}`}`,
          );
        }
        out(`rotation ${final.id} ${final.status}${final.error ? `: ${final.error}` : ''}`);
        if (final.status === RotationStatus.Running)
          out(`  waits at ${final.step}: run \`rekey apply\`, \`rekey scan\` or \`rekey rotate ${name}\` again later to finish it`);
      }
      // A rotation left waiting (a long overlap, parked for a later run) is not a failure.
      if (final.status !== RotationStatus.Completed && final.status !== RotationStatus.Running) ctx.run.exitCode = 1;
    });
}
