import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { gatherReport, renderReport } from '../../shared/app/report/index.js';
import { composeStore } from '../backend.js';
import { targetFrom } from '../compose.js';
import { out, printJson, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';

export function registerReport(cli: Command, ctx: CliContext): void {
  cli
    .command('report')
    .description('one self-contained offline HTML page: PKI tree, expiry timeline, who uses what, last rotations, drift')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .requiredOption('--html <file>', 'where to write the page')
    .option('--out <dir>', 'compare with the Secrets rendered by apply --out')
    .option('--kubeconfig <file>', 'compare with the Secrets in the clusters, and find the workloads using them')
    .action(async (o: { file: string; html: string; out?: string; kubeconfig?: string }) => {
      const inv = readInventory(o.file);
      const { deps } = await composeStore(ctx, inv, {
        target: () => targetFrom(o, 'none'),
        readOnly: true,
        flags: o,
        clusters: 'optional',
      });
      const data = await gatherReport(deps, inv);
      const html = renderReport(data);
      const path = resolve(o.html);
      await mkdir(dirname(path), { recursive: true });
      // Written aside then renamed: a browser reloading the page never sees half of it.
      await writeFile(`${path}.tmp`, html);
      await rename(`${path}.tmp`, path);
      const bytes = Buffer.byteLength(html);
      if (ctx.globals().json) printJson({ file: path, bytes, units: data.units.length, rotations: data.rotations.length });
      else
        out(
          `report of ${inv.name}: ${data.units.length} units, ${data.rotations.length} rotations -> ${path} (${(bytes / 1024).toFixed(0)} KiB)`,
        );
    });
}
