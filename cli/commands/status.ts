import type { Command } from 'commander';
import { status } from '../../shared/app/status.js';
import { composeStore } from '../backend.js';
import { out, printJson, type CliContext } from '../context.js';
import { formatStatus } from '../format.js';
import { readInventory } from '../inventory-file.js';

export function registerStatus(cli: Command, ctx: CliContext): void {
  cli
    .command('status')
    .description('per item: current version, notAfter, rotation state')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .action(async (o: { file: string }) => {
      const inv = readInventory(o.file);
      const { deps } = await composeStore(ctx, inv, { target: () => ({ kind: 'none' }), readOnly: true, clusters: 'none' });
      const rows = await status(deps, inv);
      if (ctx.globals().json) printJson({ inventory: inv.name, items: rows });
      else out(formatStatus(rows));
    });
}
