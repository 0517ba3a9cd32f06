#!/usr/bin/env node
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { apply } from '../shared/app/apply.js';
import { exportItem, type ExportFormat } from '../shared/app/export.js';
import { plan } from '../shared/app/plan.js';
import { driveRotations, startRotation } from '../shared/app/rotation/index.js';
import { status } from '../shared/app/status.js';
import { InvalidInventoryError, isRekeyError, UsageError } from '../shared/domain/errors.js';
import { RotationStatus, Trigger } from '../shared/domain/rotation/record.js';
import { EventType } from '../shared/domain/events/types.js';
import { Stage } from '../shared/ports/secret-store.js';
import { composeLocal, targetFrom, type Target } from './compose.js';
import type { Inventory } from '../shared/domain/inventory/model.js';
import { describeInventory, formatApply, formatPlan, formatStatus } from './format.js';
import { readInventory } from './inventory-file.js';
import { stderrLogger } from './logger.js';
import { progressFor } from './progress.js';

interface GlobalOptions {
  state: string;
  json?: boolean;
}

const STAGES = { current: Stage.Current, previous: Stage.Previous, pending: Stage.Pending } as const;
const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : text + '\n');
const printJson = (value: unknown) => out(JSON.stringify(value, null, 2));
const targetLabel = (t: Target) => (t.kind === 'out' ? t.dir : t.kind === 'kube' ? `clusters via ${t.kubeconfig ?? 'kubeconfig'}` : 'no clusters (store and host files)');

/** `run.exitCode` is where commands report a runtime failure (1) without throwing; main returns it. */
/** Where apply and rotate write: an inventory of host files only (seed 004) needs no cluster and no --out. */
function targetFor(inv: Inventory, flags: { out?: string; kubeconfig?: string }): Target {
  const needsClusters = [...inv.items.values()].some((item) => item.secret);
  return needsClusters || flags.out || flags.kubeconfig ? targetFrom(flags, 'required') : { kind: 'none' };
}

function program(run: { exitCode: number }): Command {
  const cli = new Command('rekey')
    .description('Issue, store, sync and rotate the certificates and credentials of Kubernetes workloads.')
    .addOption(new Option('--state <dir>', 'state folder: embedded vault, journal, events').env('REKEY_STATE').default('.rekey'))
    .option('--json', 'print one JSON document to stdout')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const globals = (): GlobalOptions => cli.opts<GlobalOptions>();
  const log = stderrLogger();

  cli
    .command('validate')
    .description('check an inventory; every error names its field path')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .action((o: { file: string }) => {
      const inv = readInventory(o.file);
      if (globals().json) printJson({ valid: true, inventory: inv.name, authorities: inv.authorities.length, certificates: inv.certificates.length, credentials: inv.credentials.length, clusters: inv.clusters.map((c) => c.name) });
      else out(`${o.file}: valid inventory ${inv.name}: ${describeInventory(inv)}`);
    });

  cli
    .command('plan')
    .description('show what apply would do; changes nothing')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'compare with manifests rendered into DIR')
    .option('--kubeconfig <file>', 'compare with the clusters of this kubeconfig')
    .action(async (o: { file: string; out?: string; kubeconfig?: string }) => {
      const inv = readInventory(o.file);
      const target = targetFrom(o, 'kube');
      const { deps } = await composeLocal(inv, { stateDir: globals().state, target, log, readOnly: true });
      const p = await plan(deps, inv);
      if (globals().json) printJson({ actions: p.actions, warnings: p.warnings });
      else out(formatPlan(p) + (target.kind === 'none' ? '\nnote: no --out or kubeconfig: Secrets were not compared' : ''));
    });

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
      const progress = progressFor(Boolean(globals().json));
      const runtime = await composeLocal(inv, { stateDir: globals().state, target, log });
      const result = await apply(runtime.deps, inv, { onProgress: (n, m) => progress.update(`[${n}] ${m}`) }).finally(runtime.close);
      progress.done();
      // Restarts that apply's updated Secrets set off (SecretSynced -> RestartRequested -> worker) must finish too.
      const restartFailures = runtime.bus.published
        .filter((e) => e.type === EventType.RestartFailed)
        .map((e) => `restart failed in ${String(e.detail.cluster ?? '?')} for ${e.detail.item}${e.detail.reason ? `: ${String(e.detail.reason)}` : ''}`);
      if (globals().json) printJson({ ...result, restartFailures });
      else out([formatApply(result, targetLabel(target), Date.now() - started), ...restartFailures].join('\n'));
      if (result.problems.length || restartFailures.length) run.exitCode = 1;
    });

  cli
    .command('rotate')
    .description('rotate an item now, step by step, into the same targets as apply')
    .argument('<name>', 'certificate, authority or credential')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'render Secrets as DIR/<cluster>/<namespace>/<name>.yaml')
    .option('--kubeconfig <file>', 'write into the clusters of this kubeconfig')
    .option('--reason <text>', 'why (recorded in the journal and events)', 'manual rotation')
    .action(async (name: string, o: { file: string; out?: string; kubeconfig?: string; reason: string }) => {
      const inv = readInventory(o.file);
      if (!inv.items.has(name)) throw new UsageError(`no authority, certificate or credential named "${name}" in ${o.file}`);
      const target = targetFor(inv, o);
      const json = Boolean(globals().json);
      const progress = progressFor(json);
      const { deps, queue, close } = await composeLocal(inv, { stateDir: globals().state, target, log });
      const { before, after, final } = await (async () => {
        const before = await status(deps, inv);
        const record = await startRotation(deps, inv, name, { trigger: Trigger.Manual, reason: o.reason });
        if (!json) out(`rotation ${record.id} of ${name} started`);
        await driveRotations(deps, inv, queue, { onStep: (m) => progress.update(`${name}: ${m.step}${m.attempt ? ` (check ${m.attempt})` : ''}`) });
        progress.done();
        return { before, final: (await deps.journal.get(record.id))!, after: await status(deps, inv) };
      })().finally(close);
      if (json) printJson({ rotation: final, before: before.filter((s) => s.name.split('/')[0] === name), after: after.filter((s) => s.name.split('/')[0] === name) });
      else {
        for (const h of final.history) out(`  ${h.status.padEnd(9)} ${h.step}${h.message ? `: ${h.message}` : ''}`);
        for (const a of after.filter((s) => s.name.split('/')[0] === name)) {
          const b = before.find((x) => x.name === a.name);
          out(`  ${a.name}: ${b?.serial ? `serial ${b.serial.slice(0, 16)} -> ` : ''}${a.serial ? `serial ${a.serial.slice(0, 16)}` : `version ${a.version}`}`);
        }
        out(`rotation ${final.id} ${final.status}${final.error ? `: ${final.error}` : ''}`);
      }
      if (final.status !== RotationStatus.Completed) run.exitCode = 1;
    });

  cli
    .command('status')
    .description('per item: current version, notAfter, rotation state')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .action(async (o: { file: string }) => {
      const inv = readInventory(o.file);
      const { deps } = await composeLocal(inv, { stateDir: globals().state, target: { kind: 'none' }, log, readOnly: true });
      const rows = await status(deps, inv);
      if (globals().json) printJson({ inventory: inv.name, items: rows });
      else out(formatStatus(rows));
    });

  cli
    .command('export')
    .description('write what a client needs: PEM files, env exports (PREFIX_CA_CERT, PREFIX_CLIENT_CERT, PREFIX_CLIENT_KEY) or PKCS#12')
    .argument('<name>', 'certificate (or certificate/ordinal for per-replica ones)')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .addOption(new Option('--format <format>', 'output format').choices(['pem', 'env', 'p12']).default('pem'))
    .option('--dir <dir>', 'folder for the files')
    .option('--prefix <prefix>', 'env variable prefix (default: the name in capitals)')
    .option('--password-env <var>', 'environment variable holding the PKCS#12 password')
    .addOption(new Option('--version-stage <stage>', 'which version: current, previous (kept for rollback) or pending').choices(['current', 'previous', 'pending']).default('current'))
    .action(async (name: string, o: { file: string; format: ExportFormat; dir?: string; prefix?: string; passwordEnv?: string; versionStage: keyof typeof STAGES }) => {
      const inv = readInventory(o.file);
      const password = o.passwordEnv ? process.env[o.passwordEnv] : undefined;
      if (o.passwordEnv && !password) throw new UsageError(`--password-env ${o.passwordEnv}: variable is not set`);
      const { deps } = await composeLocal(inv, { stateDir: globals().state, target: { kind: 'none' }, log, readOnly: true });
      const result = await exportItem(deps, inv, name, { format: o.format, stage: STAGES[o.versionStage], ...(o.dir && { dir: o.dir }), ...(o.prefix && { prefix: o.prefix }), ...(password && { password }) });
      for (const f of result.files) {
        await mkdir(dirname(f.path), { recursive: true });
        await writeFile(f.path, f.content, { mode: f.mode });
        await chmod(f.path, f.mode);
      }
      if (globals().json) printJson({ files: result.files.map((f) => f.path), ...(o.format === 'env' && { env: result.stdout.trim().split('\n') }) });
      else if (result.stdout) process.stdout.write(result.stdout);
      else out(result.files.map((f) => f.path).join('\n'));
    });
  return cli;
}

/** Exit codes: 0 success, 1 runtime failure, 2 invalid input or usage. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    // Not process.exitCode: main may run more than once in a process (tests, embedding), and each call has its own.
    const run = { exitCode: 0 };
    await program(run).parseAsync(argv as string[], { from: 'user' });
    return run.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (argv.includes('--json') && isRekeyError(e)) {
      printJson({ error: { type: e.name, message: e.message, ...(e instanceof InvalidInventoryError && { issues: e.issues }) } });
    }
    if (e instanceof InvalidInventoryError) {
      process.stderr.write(e.message + '\n');
      return 2;
    }
    if (isRekeyError(e)) {
      process.stderr.write(`rekey: ${e.message}\n`);
      return e.invalidInput ? 2 : 1;
    }
    process.stderr.write(`rekey: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/main.ts')) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
