#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { InvalidInventoryError, isRekeyError } from '../shared/domain/errors.js';
import { registerApply } from './commands/apply.js';
import { registerExport } from './commands/export.js';
import { registerImport } from './commands/import.js';
import { registerScan } from './commands/scan.js';
import { registerInspect } from './commands/inspect.js';
import { registerPlan } from './commands/plan.js';
import { registerRecover } from './commands/recover.js';
import { registerReport } from './commands/report.js';
import { registerRotate } from './commands/rotate.js';
import { registerRollback } from './commands/rollback.js';
import { registerServe } from './commands/serve.js';
import { registerStatus } from './commands/status.js';
import { registerToken } from './commands/token.js';
import { registerEnrol } from './commands/enrol.js';
import { registerRevoke } from './commands/revoke.js';
import { registerTruststore } from './commands/truststore.js';
import { registerValidate } from './commands/validate.js';
import { printJson, type CliContext, type GlobalOptions, type RegisterCommand } from './context.js';
import { stderrLogger } from './logger.js';
import { addBackendOptions } from './backend.js';
import { REKEY_VERSION } from './version.js';

/** Every command, one module each under cli/commands/. */
const COMMANDS: readonly RegisterCommand[] = [
  registerValidate,
  registerPlan,
  registerApply,
  registerRotate,
  registerRollback,
  registerStatus,
  registerExport,
  registerInspect,
  registerReport,
  registerRecover,
  registerServe,
  registerToken,
  registerImport,
  registerScan,
  registerEnrol,
  registerRevoke,
  registerTruststore,
];

function program(run: { exitCode: number }): Command {
  const cli = new Command('rekey')
    .description('Issue, store, sync and rotate the certificates and credentials of Kubernetes workloads.')
    .addOption(new Option('--state <dir>', 'state folder: embedded vault, journal, events').env('REKEY_STATE').default('.rekey'))
    .option('--json', 'print one JSON document to stdout')
    .version(REKEY_VERSION, '--version', 'print the version')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  addBackendOptions(cli);
  const ctx: CliContext = { globals: () => cli.opts<GlobalOptions>(), log: stderrLogger(), run };
  for (const register of COMMANDS) register(cli, ctx);
  return cli;
}

/** Exit codes: 0 success, 1 runtime failure, 2 invalid input or usage. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    // Not process.exitCode: main may run more than once in a process (tests, embedding), and each call has its own.
    const run = { exitCode: 0 };
    await program(run).parseAsync(argv, { from: 'user' });
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

/** Resolves once everything written to `stream` so far has been handed to the OS (a pipe may still be full before). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) {
      resolve();
      return;
    }
    // Writes are ordered: the callback of an empty write runs after every earlier chunk went out.
    stream.write('', () => resolve());
  });
}

/**
 * Runs `rekey ARGV` as the whole process: sets the exit code, waits until stdout and stderr drained, then ends.
 * Calling process.exit() with output still queued for a pipe cuts it at the pipe's buffer (64 KiB: invalid JSON
 * for `plan --json | cat`); exiting only after the drain still ends the process if a client (a kube agent's
 * keep-alive socket) holds the event loop open.
 */
export async function runAsProcess(argv: readonly string[]): Promise<void> {
  const code = await main(argv);
  process.exitCode = code;
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/main.ts')) {
  await runAsProcess(process.argv.slice(2));
}
