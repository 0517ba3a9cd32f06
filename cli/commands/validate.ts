import type { Command } from 'commander';
import { out, printJson, type CliContext } from '../context.js';
import { describeInventory } from '../format.js';
import { readInventory } from '../inventory-file.js';

export function registerValidate(cli: Command, ctx: CliContext): void {
  cli
    .command('validate')
    .description('check an inventory; every error names its field path')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .action((o: { file: string }) => {
      const inv = readInventory(o.file);
      if (ctx.globals().json) printJson({ valid: true, inventory: inv.name, authorities: inv.authorities.length, certificates: inv.certificates.length, credentials: inv.credentials.length, clusters: inv.clusters.map((c) => c.name) });
      else out(`${o.file}: valid inventory ${inv.name}: ${describeInventory(inv)}`);
    });
}
