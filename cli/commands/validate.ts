import type { Command } from 'commander';
import { out, printJson, type CliContext } from '../context.js';
import { describeInventory } from '../format.js';
import { readInventory } from '../inventory-file.js';
import { inventoryWarnings } from '../../shared/domain/inventory/warnings.js';

export function registerValidate(cli: Command, ctx: CliContext): void {
  cli
    .command('validate')
    .description('check an inventory; every error names its field path')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .action((o: { file: string }) => {
      const inv = readInventory(o.file);
      // Valid but unwise settings: on stderr, so stdout stays the verdict (and valid JSON with --json).
      const warnings = inventoryWarnings(inv);
      for (const w of warnings) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
      if (ctx.globals().json)
        printJson({
          valid: true,
          warnings: warnings.map(({ path, message }) => ({ path, message })),
          inventory: inv.name,
          authorities: inv.authorities.length,
          certificates: inv.certificates.length,
          credentials: inv.credentials.length,
          clusters: inv.clusters.map((c) => c.name),
        });
      else out(`${o.file}: valid inventory ${inv.name}: ${describeInventory(inv)}`);
    });
}
