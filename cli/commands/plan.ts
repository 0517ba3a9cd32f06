import type { Command } from 'commander';
import { plan } from '../../shared/app/plan.js';
import { composeStore } from '../backend.js';
import { targetFrom, type Target } from '../compose.js';
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
      let target: Target | undefined;
      const { deps } = await composeStore(ctx, inv, {
        target: () => (target = targetFrom(o, 'kube')),
        readOnly: true,
        flags: o,
        clusters: 'optional',
      });
      const p = await plan(deps, inv);
      if (ctx.globals().json) printJson({ actions: p.actions, warnings: p.warnings, consumers: p.consumers });
      else
        out(
          formatPlan(p) +
            (target?.kind === 'none' || deps.clusters.size === 0 ? '\nnote: no --out or kubeconfig: Secrets were not compared' : ''),
        );
    });
}
