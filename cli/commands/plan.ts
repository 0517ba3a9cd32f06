import type { Command } from 'commander';
import { plan } from '../../shared/app/plan.js';
import { composeLocal, targetFrom } from '../compose.js';
import { out, printJson, type CliContext } from '../context.js';
import { formatPlan } from '../format.js';
import { readInventory } from '../inventory-file.js';

export function registerPlan(cli: Command, ctx: CliContext): void {
  cli
    .command('plan')
    .description('show what apply would do; changes nothing')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'compare with manifests rendered into DIR')
    .option('--kubeconfig <file>', 'compare with the clusters of this kubeconfig')
    .action(async (o: { file: string; out?: string; kubeconfig?: string }) => {
      const inv = readInventory(o.file);
      const target = targetFrom(o, 'kube');
      const { deps } = await composeLocal(inv, { stateDir: ctx.globals().state, target, log: ctx.log, readOnly: true });
      const p = await plan(deps, inv);
      if (ctx.globals().json) printJson({ actions: p.actions, warnings: p.warnings, consumers: p.consumers });
      else out(formatPlan(p) + (target.kind === 'none' ? '\nnote: no --out or kubeconfig: Secrets were not compared' : ''));
    });
}
