import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { coldStart, depsFor, FunctionEnv } from '../functions/lib/runtime.js';
import { AwsEnv } from '../shared/adapters/aws/index.js';
import { readStackOutputs, StackOutput } from '../shared/adapters/aws/stack-outputs.js';
import { UsageError } from '../shared/domain/errors.js';
import type { Inventory } from '../shared/domain/inventory/model.js';
import type { Cluster } from '../shared/ports/cluster.js';
import type { Logger } from '../shared/ports/logger.js';
import { Backend, type AwsBackendFlags, type ClusterAccess, type StoreRuntime } from './backend.js';

/** The names of a deployed stack's resources the CLI works with, and where each came from. */
export interface StackNames {
  readonly region: string;
  readonly journalTable: string;
  readonly stepQueueUrl: string;
  readonly eventBusName: string;
  readonly delayQueueUrl?: string;
}

/**
 * Resolves the stack's names: a flag first, then the output of `--stack NAME` (one CloudFormation DescribeStacks),
 * then the environment the functions themselves read (REKEY_JOURNAL_TABLE, REKEY_STEP_QUEUE_URL, REKEY_EVENT_BUS,
 * AWS_REGION). Everything missing is named in one usage error, before anything is read or written.
 */
export async function resolveStackNames(flags: AwsBackendFlags, env: NodeJS.ProcessEnv = process.env): Promise<StackNames> {
  const region = flags.region ?? (env[AwsEnv.region] || env.AWS_DEFAULT_REGION || undefined);
  if (flags.stack !== undefined && !region)
    throw new UsageError(`--backend aws: --stack ${flags.stack} needs the region (--region or ${AwsEnv.region})`);
  const outputs = flags.stack !== undefined ? await readStackOutputs(flags.stack, { ...(region && { region }) }) : {};
  const pick = (flag: string | undefined, output: string, variable: string) => flag ?? outputs[output] ?? (env[variable] || undefined);
  const journalTable = pick(flags.table, StackOutput.journalTable, AwsEnv.journalTable);
  const stepQueueUrl = pick(flags.queueUrl, StackOutput.stepQueueUrl, AwsEnv.stepQueueUrl);
  const eventBusName = pick(flags.eventBus, StackOutput.eventBusName, AwsEnv.eventBusName);
  const delayQueueUrl = pick(undefined, StackOutput.delayQueueUrl, AwsEnv.delayQueueUrl);
  const from = (flag: string, variable: string, output: string) =>
    `${flag} or ${variable}${flags.stack !== undefined ? ` (stack ${flags.stack} has no output ${output})` : ''}`;
  const missing = [
    ...(region ? [] : [`the region (--region or ${AwsEnv.region})`]),
    ...(journalTable ? [] : [`the journal table (${from('--table', AwsEnv.journalTable, StackOutput.journalTable)})`]),
    ...(stepQueueUrl ? [] : [`the step queue (${from('--queue-url', AwsEnv.stepQueueUrl, StackOutput.stepQueueUrl)})`]),
    ...(eventBusName ? [] : [`the event bus (${from('--event-bus', AwsEnv.eventBusName, StackOutput.eventBusName)})`]),
  ];
  if (!region || !journalTable || !stepQueueUrl || !eventBusName)
    throw new UsageError(`--backend aws: missing ${missing.join(', ')}${flags.stack === undefined ? '; or give --stack NAME' : ''}`);
  return { region, journalTable, stepQueueUrl, eventBusName, ...(delayQueueUrl && { delayQueueUrl }) };
}

/**
 * The AWS composition root of the CLI: the functions' own cold start (`functions/lib/runtime.ts`: Secrets Manager
 * store, DynamoDB journal, SQS step queue, EventBridge bus, restarts requested through EventBridge) on the names
 * {@link resolveStackNames} found. Nothing here drives a rotation: a started rotation's first step goes to the
 * stack's queue, and its step workers own it from there. Clusters: `kubeconfig` if given, else (unless `clusters`
 * is `none`) the stack's own kubeconfig from Secrets Manager (`rekey/<inventory>/kubeconfig`, or
 * REKEY_KUBECONFIG_SECRET), exactly as the functions reach them.
 */
export async function composeAws(
  inventory: Inventory,
  options: {
    readonly flags: AwsBackendFlags;
    readonly log: Logger;
    readonly clusters: ClusterAccess;
    readonly out?: string;
    readonly kubeconfig?: string;
  },
): Promise<StoreRuntime & { readonly names: StackNames }> {
  if (options.out !== undefined)
    throw new UsageError(
      "--out renders the embedded state; with --backend aws the Secrets are the stack's clusters (give --kubeconfig to reach them from here)",
    );
  if (options.kubeconfig !== undefined && !existsSync(options.kubeconfig))
    throw new UsageError(`--kubeconfig ${options.kubeconfig}: no such file`);
  const names = await resolveStackNames(options.flags);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [AwsEnv.region]: names.region,
    [AwsEnv.journalTable]: names.journalTable,
    [AwsEnv.stepQueueUrl]: names.stepQueueUrl,
    [AwsEnv.eventBusName]: names.eventBusName,
    ...(names.delayQueueUrl && { [AwsEnv.delayQueueUrl]: names.delayQueueUrl }),
    // The stack's kubeconfig, not the one this shell's KUBECONFIG names (the functions' fallback for local runs).
    [FunctionEnv.kubeconfigSecret]: process.env[FunctionEnv.kubeconfigSecret] || `rekey/${inventory.name}/kubeconfig`,
  };
  const rt = coldStart({
    env,
    inventory,
    log: options.log,
    ...(options.kubeconfig !== undefined && { clusters: connectKubeconfig(inventory, resolve(options.kubeconfig), options.log) }),
  });
  let clusters: ReadonlyMap<string, Cluster> = new Map();
  if (options.kubeconfig !== undefined || options.clusters === 'required') clusters = await rt.clusters();
  else if (options.clusters === 'optional')
    clusters = await rt.clusters().catch((e: unknown) => {
      options.log.warn(`the stack's clusters are not reachable from here (${(e as Error).message}); Secrets are not compared`);
      return new Map<string, Cluster>();
    });
  const deps = depsFor(rt, clusters, { log: options.log });
  return { backend: Backend.Aws, deps, names, close: async () => {} };
}

/** A kubeconfig on this machine, each inventory cluster by its context (as `--kubeconfig` does on the local backend). */
function connectKubeconfig(inventory: Inventory, kubeconfig: string, log: Logger): () => Promise<ReadonlyMap<string, Cluster>> {
  let connected: Promise<ReadonlyMap<string, Cluster>> | undefined;
  return () =>
    (connected ??= import('../shared/adapters/kube/index.js').then((kube) =>
      kube.connectClusters(inventory.clusters, { kubeconfig, log }),
    ));
}
