import type { Command } from 'commander';
import { rollbackItem } from '../../shared/app/rollback.js';
import { UsageError } from '../../shared/domain/errors.js';
import { composeStore } from '../backend.js';
import { out, printJson, targetFor, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';

export function registerRollback(cli: Command, ctx: CliContext): void {
  cli
    .command('rollback')
    .description('AWSPREVIOUS becomes current again, resync, restart consumers (an authority: while its old CA is still in the bundles)')
    .argument('<name>', 'certificate, authority or credential')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'render Secrets as DIR/<cluster>/<namespace>/<name>.yaml')
    .option('--kubeconfig <file>', 'write into the clusters of this kubeconfig')
    .option('--reason <text>', 'why (recorded in the journal and events)', 'manual rollback')
    .action(async (name: string, o: { file: string; out?: string; kubeconfig?: string; reason: string }) => {
      const inv = readInventory(o.file);
      if (!inv.items.has(name)) throw new UsageError(`no authority, certificate or credential named "${name}" in ${o.file}`);
      // On a stack: the Secrets are rewritten in the stack's clusters; restarts go through its bus to its restart function.
      const { deps, close } = await composeStore(ctx, inv, { target: () => targetFor(inv, o), flags: o, clusters: 'required' });
      const result = await rollbackItem(deps, inv, name, { reason: o.reason }).finally(close);
      if (ctx.globals().json) printJson({ item: result.item, rotationId: result.rotationId, units: result.units });
      else out(`${name}: rolled back ${result.units.join(', ')}${result.rotationId ? ` (rotation ${result.rotationId})` : ''}`);
    });
}
