import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { writeExportFiles } from '../../shared/adapters/local/export-files.js';
import { exportItem, type ExportChain, type ExportFormat } from '../../shared/app/export.js';
import { UsageError } from '../../shared/domain/errors.js';
import { Stage } from '../../shared/ports/secret-store.js';
import { composeStore } from '../backend.js';
import { out, printJson, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';

const STAGES = { current: Stage.Current, previous: Stage.Previous, pending: Stage.Pending } as const;

export function registerExport(cli: Command, ctx: CliContext): void {
  cli
    .command('export')
    .description('write what a client needs: PEM files, env exports (PREFIX_CA_CERT, PREFIX_CLIENT_CERT, PREFIX_CLIENT_KEY) or PKCS#12')
    .argument('<name>', 'certificate (or certificate/ordinal for per-replica ones)')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .addOption(new Option('--format <format>', 'output format').choices(['pem', 'env', 'p12']).default('pem'))
    .option('--dir <dir>', 'folder for the files (default for env and p12: <state>/export); must be yours and not writable by others')
    .option('--prefix <prefix>', 'env variable prefix (default: the name in capitals)')
    .option('--password-env <var>', 'environment variable holding the PKCS#12 password')
    .addOption(
      new Option('--chain <chain>', 'p12: certificates to include: leaf and intermediates, or also the root (full)')
        .choices(['intermediates', 'full'])
        .default('intermediates'),
    )
    .addOption(
      new Option('--version-stage <stage>', 'which version: current, previous (kept for rollback) or pending')
        .choices(['current', 'previous', 'pending'])
        .default('current'),
    )
    .action(
      async (
        name: string,
        o: {
          file: string;
          format: ExportFormat;
          dir?: string;
          prefix?: string;
          passwordEnv?: string;
          versionStage: keyof typeof STAGES;
          chain: ExportChain;
        },
      ) => {
        const inv = readInventory(o.file);
        const password = o.passwordEnv ? process.env[o.passwordEnv] : undefined;
        if (o.passwordEnv && !password) throw new UsageError(`--password-env ${o.passwordEnv}: variable is not set`);
        const { deps } = await composeStore(ctx, inv, { target: () => ({ kind: 'none' }), readOnly: true, clusters: 'none' });
        const defaultDir = join(resolve(ctx.globals().state), 'export');
        const result = await exportItem(deps, inv, name, {
          format: o.format,
          stage: STAGES[o.versionStage],
          chain: o.chain,
          defaultDir,
          ...(o.dir && { dir: o.dir }),
          ...(o.prefix !== undefined && { prefix: o.prefix }),
          ...(password && { password }),
        });
        await writeExportFiles(result.files);
        if (ctx.globals().json)
          printJson({ files: result.files.map((f) => f.path), ...(o.format === 'env' && { env: result.stdout.trim().split('\n') }) });
        else if (result.stdout) process.stdout.write(result.stdout);
        else out(result.files.map((f) => f.path).join('\n'));
      },
    );
}
