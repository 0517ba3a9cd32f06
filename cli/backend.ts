import { Option, type Command } from 'commander';
import type { Deps } from '../shared/app/deps.js';
import { UsageError } from '../shared/domain/errors.js';
import type { Inventory } from '../shared/domain/inventory/model.js';
import { composeLocal, type Target } from './compose.js';
import type { CliContext, GlobalOptions } from './context.js';

/** Where a command's store, journal and queue are: the embedded state folder, or a deployed stack's AWS resources. */
export const Backend = { Local: 'local', Aws: 'aws' } as const;
export type Backend = (typeof Backend)[keyof typeof Backend];

/** The global flags that name a deployed stack's resources (`--backend aws`). */
export interface AwsBackendFlags {
  readonly region?: string;
  readonly table?: string;
  readonly queueUrl?: string;
  readonly eventBus?: string;
  readonly stack?: string;
}

const AWS_FLAGS: Readonly<Record<keyof AwsBackendFlags, string>> = {
  region: '--region',
  table: '--table',
  queueUrl: '--queue-url',
  eventBus: '--event-bus',
  stack: '--stack',
};

/**
 * Commands that work against a deployed stack, and why the others do not. `apply`, `scan` and `recover` drive
 * rotations in this process (and `recover` takes over stale ones): on a stack the step workers own every rotation
 * and the schedule function does what `apply` and `scan` do, so running them here would race those workers.
 */
const AWS_SUPPORT: Readonly<Record<string, true | string>> = {
  status: true,
  plan: true,
  inspect: true,
  rotate: true,
  rollback: true,
  export: true,
  report: true,
  // validate reads only the inventory, enrol only talks to an API: the backend does not concern them.
  validate: true,
  enrol: true,
  // Reads the enrolment CAs from the store: a stack's Secrets Manager with --backend aws.
  truststore: true,
  apply:
    "the deployed stack's schedule function issues and rotates what is due (invoke it to run now); `rekey rotate NAME --backend aws` starts one rotation",
  scan: "the deployed stack's schedule function does this; invoke it instead",
  recover: "the deployed stack's step and schedule functions recover their own rotations; running it here would take over theirs",
};

/** Adds `--backend` and the stack's names to the program, and refuses commands that have no AWS backend. */
export function addBackendOptions(cli: Command): void {
  cli
    .addOption(
      new Option('--backend <backend>', 'local: the state folder; aws: the stores of a deployed stack')
        .choices(Object.values(Backend))
        .env('REKEY_BACKEND')
        .default(Backend.Local),
    )
    .option('--region <region>', "aws: the stack's region (default AWS_REGION)")
    .option('--table <name>', 'aws: the journal table (default REKEY_JOURNAL_TABLE, or the stack output JournalTableName)')
    .option('--queue-url <url>', 'aws: the FIFO step queue (default REKEY_STEP_QUEUE_URL, or the stack output StepQueueUrl)')
    .option('--event-bus <name>', 'aws: the event bus (default REKEY_EVENT_BUS, or the stack output EventBusName)')
    .option('--stack <name>', "aws: read the names above from this CloudFormation stack's outputs")
    .hook('preAction', (_program, command) => {
      checkBackendFor(command.name(), _program.opts<GlobalOptions>());
    });
}

/** Throws the usage error for a command and backend that do not go together; nothing has been read or written yet. */
export function checkBackendFor(command: string, globals: GlobalOptions): void {
  if (globals.backend !== Backend.Aws) {
    const given = (Object.keys(AWS_FLAGS) as (keyof AwsBackendFlags)[]).filter((k) => globals[k] !== undefined);
    if (given.length) throw new UsageError(`${given.map((k) => AWS_FLAGS[k]).join(', ')}: only with --backend aws (or REKEY_BACKEND=aws)`);
    return;
  }
  const support = AWS_SUPPORT[command];
  if (support === true) return;
  throw new UsageError(
    `rekey ${command} does not work with --backend aws${typeof support === 'string' ? `: ${support}` : ' (it works on the embedded state folder)'}`,
  );
}

/** True when the command runs against a deployed stack. */
export const isAwsBackend = (ctx: CliContext): boolean => ctx.globals().backend === Backend.Aws;

/**
 * Which clusters a command on the AWS backend reaches: `none` (store and journal only), `optional` (the stack's
 * clusters if they can be reached, else none, with a warning), `required` (an error if they cannot be).
 */
export type ClusterAccess = 'none' | 'optional' | 'required';

/** What the commands that read or write through the store use, on either backend. */
export interface StoreRuntime {
  readonly backend: Backend;
  readonly deps: Deps;
  readonly close: () => Promise<void>;
}

/**
 * The runtime of a command that works through the ports only (status, plan, inspect, rollback, export, report): the
 * embedded one, or (`--backend aws`) the AWS adapters of a deployed stack, composed like the functions' (see
 * `cli/compose-aws.ts`). On AWS, `--kubeconfig` names the clusters to reach; without it the stack's own kubeconfig
 * in Secrets Manager is used as `clusters` says; `--out` is refused (manifests render the embedded state).
 */
export async function composeStore(
  ctx: CliContext,
  inventory: Inventory,
  options: {
    /** The local backend's target (computed only for it: its defaults do not apply to a stack). */
    readonly target: () => Target;
    readonly readOnly?: boolean;
    readonly flags?: { readonly out?: string; readonly kubeconfig?: string };
    readonly clusters: ClusterAccess;
  },
): Promise<StoreRuntime> {
  const globals = ctx.globals();
  if (globals.backend === Backend.Aws) {
    // Loaded only for the AWS backend: the SDK clients take a while to import.
    const { composeAws } = await import('./compose-aws.js');
    return composeAws(inventory, { flags: globals, log: ctx.log, clusters: options.clusters, ...options.flags });
  }
  const local = await composeLocal(inventory, {
    stateDir: globals.state,
    target: options.target(),
    log: ctx.log,
    ...(options.readOnly && { readOnly: true }),
  });
  return { backend: Backend.Local, deps: local.deps, close: local.close };
}
