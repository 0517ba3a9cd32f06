import type { Command } from 'commander';
import { apply } from '../../shared/app/apply.js';
import { EventType } from '../../shared/domain/events/types.js';
import { RotationStatus } from '../../shared/domain/rotation/record.js';
import { driveRotations } from '../../shared/app/rotation/index.js';
import { composeLocal } from '../compose.js';
import { out, printJson, targetFor, targetLabel, type CliContext } from '../context.js';
import { formatApply } from '../format.js';
import { readInventory } from '../inventory-file.js';
import { progressFor } from '../progress.js';
import { cliLease, cliRecovery, formatRecovery } from './recover.js';
import { defined } from '../../shared/domain/defined.js';

export function registerApply(cli: Command, ctx: CliContext): void {
  cli
    .command('apply')
    .description('issue what is missing or due, store it, write the Secrets')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'render Secrets as DIR/<cluster>/<namespace>/<name>.yaml')
    .option('--kubeconfig <file>', 'write into the clusters of this kubeconfig (contexts from the inventory)')
    .action(async (o: { file: string; out?: string; kubeconfig?: string }) => {
      const started = Date.now();
      const inv = readInventory(o.file);
      const target = targetFor(inv, o);
      const progress = progressFor(Boolean(ctx.globals().json));
      const runtime = await composeLocal(inv, { stateDir: ctx.globals().state, target, log: ctx.log, keepEvents: false });
      // Restarts that apply's updated Secrets set off (SecretSynced -> RestartRequested -> worker) must finish too.
      const restartFailures: string[] = [];
      runtime.bus.subscribe(async (e) => {
        if (e.type === EventType.RestartFailed)
          restartFailures.push(
            `restart failed in ${e.detail.cluster} for ${e.detail.item}${e.detail.reason ? `: ${e.detail.reason}` : ''}`,
          );
      });
      const result = await (async () => {
        const r = await apply(runtime.deps, inv, {
          onProgress: (n, m) => progress.update(`[${n}] ${m}`),
          recover: cliRecovery(runtime, cliLease()),
        });
        // A due CA rotates with trust overlap (never a hard cut): drive its rotation to the end here.
        if (r.rotations.length)
          await driveRotations(runtime.deps, inv, runtime.queue, { onStep: (m) => progress.update(`${m.item}: ${m.step}`) });
        // A rotation still running was parked (a signing key waiting out its overlap): the next run finishes it.
        const unfinished = (await Promise.all(r.rotations.map((id) => runtime.deps.journal.get(id)))).filter(
          (x) => x && x.status !== RotationStatus.Completed && x.status !== RotationStatus.Running,
        );
        return {
          ...r,
          problems: [
            ...r.problems,
            ...unfinished.map(
              (x) =>
                `rotation ${defined(x).id} of ${defined(x).item} ${defined(x).status}${defined(x).error ? `: ${defined(x).error}` : ''}`,
            ),
          ],
        };
      })().finally(runtime.close);
      progress.done();
      if (ctx.globals().json) printJson({ ...result, restartFailures });
      else
        out(
          [...formatRecovery(result.recovered), formatApply(result, targetLabel(target), Date.now() - started), ...restartFailures].join(
            '\n',
          ),
        );
      if (result.problems.length || restartFailures.length) ctx.run.exitCode = 1;
    });
}
