import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { webInventoryYaml } from '../fixtures/aws-inventories.js';
import { RotationStatus, type RotationRecord } from '../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../shared/domain/store/material.js';
import { Annotation } from '../../shared/domain/sync/desired.js';
import { Stage } from '../../shared/ports/secret-store.js';
import { startAwsLambdaRunner, type AwsLambdaRunner } from '../fixtures/aws-lambda-runner.js';
import { runMain } from '../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { loadInfraEnv } from '../infra/env.js';
import { Admin, deploymentObject, eventually, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';

/**
 * The CLI against a deployed stack (`--backend aws`), on moto and dc1: the stack is the AWS fixture (the step, delay
 * and restart functions polling their queues; the kubeconfig in Secrets Manager), its first rotations made by the
 * scheduled scan. The real CLI (`main`) then reads and writes through the AWS adapters: status, plan, inspect,
 * export, report on what the functions made, rotate (queues the first step; the step function drives it), rollback,
 * names from flags, from the functions' environment variables and from CloudFormation stack outputs, and what a
 * missing name does.
 */

const infra = loadInfraEnv({ require: ['kube', 'moto'] });
let admin: Admin;
let namespace: string;
let aws: AwsLambdaRunner;
let dir: string;
let file: string;
let inventoryName: string;

const yaml = (name: string, ns: string) => webInventoryYaml({ name, namespace: ns, rootCommonName: 'cli-aws root' });

/** The functions' environment as a shell on an operator's machine would export it (the names serverless.yml sets). */
const stackEnv = (): Record<string, string | undefined> => ({
  REKEY_BACKEND: 'aws',
  REKEY_JOURNAL_TABLE: aws.resources.journalTable,
  REKEY_STEP_QUEUE_URL: aws.resources.stepQueueUrl,
  REKEY_EVENT_BUS: aws.resources.eventBusName,
});
/** The same names as flags, with the environment cleared of them. */
const stackFlags = (): string[] => [
  '--backend',
  'aws',
  '--region',
  infra.aws.region,
  '--table',
  aws.resources.journalTable,
  '--queue-url',
  aws.resources.stepQueueUrl,
  '--event-bus',
  aws.resources.eventBusName,
];
const noStackEnv = {
  REKEY_BACKEND: undefined,
  REKEY_JOURNAL_TABLE: undefined,
  REKEY_STEP_QUEUE_URL: undefined,
  REKEY_EVENT_BUS: undefined,
};

const secretVersion = async (): Promise<string | undefined> =>
  (await admin.core.readNamespacedSecret({ name: 'web-tls', namespace })).metadata?.annotations?.[Annotation.Version];
const restartedAt = async () => (await admin.deployment(namespace, 'web')).spec?.template.metadata?.annotations?.['rekey/restartedAt'];
const storeName = () => `rekey/${inventoryName}/web`;
const versionAt = async (stage: Stage) => (await aws.aws.store.getVersion(storeName(), { stage }))?.versionId;

let first: RotationRecord;

beforeAll(async () => {
  admin = await Admin.of('dc1');
  namespace = uniqueName('cli-aws');
  await admin.createNamespace(namespace);
  await admin.apply(deploymentObject(namespace, 'web', {}, podSpec({ volume: 'web-tls' })));
  await rolledOut(admin, namespace, 'web');
  dir = await makeTempDir('rekey-cli-aws-');
  aws = await startAwsLambdaRunner({
    name: 'cliaws',
    require: ['kube'],
    kubeconfig: infra.kube.kubeconfig,
    inventory: (prefix) => loadInventory(yaml((inventoryName = prefix), namespace), 'cli-aws.yaml'),
  });
  file = join(dir, 'inventory.yaml');
  await writeFile(file, yaml(inventoryName, namespace));
  // What a deployed stack has done before anyone runs the CLI: its schedule issued everything.
  const scan = await aws.schedule();
  const done = await Promise.all(scan.rotations.map((id) => aws.waitForRotation(id)));
  for (const r of done) expect(r.status, r.error).toBe(RotationStatus.Completed);
  first = done.find((r) => r.item === 'web') as RotationRecord;
  expect(first).toBeDefined();
}, 300_000);

afterAll(async () => {
  await aws?.stop();
  await admin?.deleteNamespace(namespace);
  await removeTempDir(dir);
});

describe('rekey --backend aws, reading what the functions made', () => {
  it('status (names from the environment) shows the versions and rotations in Secrets Manager and DynamoDB', async () => {
    // Act
    const state = join(dir, 'state-status');
    const r = await runMain(['--state', state, '--json', 'status', '-f', file], stackEnv());
    // Assess
    expect(r.code, r.stderr).toBe(0);
    const { items } = JSON.parse(r.stdout) as { items: { name: string; version?: string; rotation?: { id: string; status: string } }[] };
    const web = items.find((i) => i.name === 'web');
    expect(web?.version).toBe(first.id);
    expect(web?.rotation).toMatchObject({ id: first.id, status: RotationStatus.Completed });
    const ca = await aws.aws.store.getVersion(`rekey/${inventoryName}/root-ca`, { stage: Stage.Current });
    expect(items.find((i) => i.name === 'root-ca')?.version).toBe(ca?.versionId);
    expect(existsSync(state), 'no state folder made').toBe(false);
  });

  it('plan (names as flags) compares with the Secrets in the stack clusters and finds nothing to do', async () => {
    const r = await runMain(['--json', ...stackFlags(), 'plan', '-f', file], noStackEnv);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { actions: unknown[] };
    expect(plan.actions).toEqual([]);
    expect(r.stderr, 'the clusters were reached (with the kubeconfig the stack keeps in Secrets Manager)').not.toContain('not reachable');
  });

  it('inspect shows the certificate, its versions and stages, the Secret in dc1 and the last rotation', async () => {
    const r = await runMain(['--json', 'inspect', 'web', '-f', file], stackEnv());
    expect(r.code, r.stderr).toBe(0);
    const i = JSON.parse(r.stdout) as {
      units: { versions: { versionId: string; stages: string[] }[]; certificate?: { subject: string } }[];
      synced: { cluster: string; namespace: string; secret: string; version?: string }[];
      lastRotation?: { id: string; status: string };
    };
    expect(i.units[0]?.certificate?.subject).toContain('web');
    expect(i.units[0]?.versions.find((v) => v.stages.includes(Stage.Current))?.versionId).toBe(first.id);
    expect(i.synced).toEqual([expect.objectContaining({ cluster: 'dc1', namespace, secret: 'web-tls', version: first.id })]);
    expect(i.lastRotation).toMatchObject({ id: first.id, status: RotationStatus.Completed });
  });

  it('inspect with --kubeconfig reaches the clusters from this machine instead of the stack kubeconfig', async () => {
    const r = await runMain(['--json', 'inspect', 'web', '-f', file, '--kubeconfig', infra.kube.kubeconfig.split(':')[0] ?? ''], {
      ...stackEnv(),
      // the stack's kubeconfig secret named here does not exist: only --kubeconfig can have been used
      REKEY_KUBECONFIG_SECRET: `rekey/${inventoryName}/no-such-kubeconfig`,
    });
    expect(r.code, r.stderr).toBe(0);
    const i = JSON.parse(r.stdout) as { synced: { cluster: string; version?: string }[] };
    expect(i.synced).toEqual([expect.objectContaining({ cluster: 'dc1', version: first.id })]);
  });

  it('export writes the current certificate and key from Secrets Manager', async () => {
    const out = join(dir, 'export');
    const r = await runMain(['--json', 'export', 'web', '-f', file, '--format', 'pem', '--dir', out], stackEnv());
    expect(r.code, r.stderr).toBe(0);
    const stored = decodeMaterial((await aws.aws.store.getVersion(storeName()))?.value ?? '', storeName()) as CertificateMaterial;
    const files = (JSON.parse(r.stdout) as { files: string[] }).files;
    const cert = await readFile(files.find((f) => f.endsWith('tls.crt')) ?? '', 'utf8');
    expect(new X509Certificate(cert).fingerprint256).toBe(new X509Certificate(stored.cert).fingerprint256);
  });

  it('report writes one page from the stack', async () => {
    const html = join(dir, 'report.html');
    const r = await runMain(['--json', 'report', '-f', file, '--html', html], stackEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ units: 2 });
    expect(await readFile(html, 'utf8')).toContain(first.id.slice(0, 8));
  });
});

describe('rekey --backend aws, changing the stack', () => {
  let rotated: RotationRecord;
  let waited: string;

  it('rotate queues the first step and returns; the step function drives the rotation to completion', async () => {
    // Prepare
    const stepsBefore = aws.runner.invocations.step;
    // Act
    const r = await runMain(['--json', 'rotate', 'web', '-f', file, '--reason', 'cli on aws'], stackEnv());
    // Assess: the CLI started it (no lease: the first worker claims it) and did not run a step
    expect(r.code, r.stderr).toBe(0);
    const started = (JSON.parse(r.stdout) as { rotation: RotationRecord; queued: boolean }).rotation;
    expect(started).toMatchObject({ item: 'web', status: RotationStatus.Running, step: 'issue', history: [] });
    expect(started.lease).toBeUndefined();
    rotated = await aws.waitForRotation(started.id);
    expect(rotated.status, rotated.error).toBe(RotationStatus.Completed);
    expect(rotated.history.map((h) => h.step)).toEqual(['issue', 'test', 'promote', 'sync', 'restart', 'verify']);
    // every step ran under a lease of the Lambda step function, none under the CLI's
    expect(rotated.lease?.owner).toMatch(/^lambda:/);
    expect(aws.runner.invocations.step).toBeGreaterThan(stepsBefore);
    expect(await versionAt(Stage.Current)).toBe(started.id);
    expect(await secretVersion()).toBe(started.id);
    expect(aws.runner.errors).toEqual([]);
  });

  it('rotate --wait reads the journal until the step function has finished the rotation, printing its steps', async () => {
    const r = await runMain(['rotate', 'web', '-f', file, '--wait'], stackEnv());
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^rotation \S+ of web queued on .*: the stack's step function drives it$/);
    expect(lines.filter((l) => /^ {2}\w+ +\w/.test(l)).map((l) => l.trim().split(/ +/)[1]?.replace(/:$/, ''))).toEqual([
      'issue',
      'test',
      'promote',
      'sync',
      'restart',
      'verify',
    ]);
    expect(lines.at(-1)).toMatch(/^rotation \S+ completed$/);
    const id = /^rotation (\S+) of web/.exec(lines[0] ?? '')?.[1] ?? '';
    waited = id;
    expect(await versionAt(Stage.Current)).toBe(id);
    expect((await aws.aws.journal.get(id))?.lease?.owner).toMatch(/^lambda:/);
  });

  it('rollback (names from the stack outputs) makes the previous version current and rewrites the Secret in dc1', async () => {
    // Prepare: a CloudFormation stack whose outputs name the resources, as serverless.yml declares them
    const stack = `rekey-${aws.resources.prefix}`;
    await new CloudFormationClient({ region: infra.aws.region }).send(
      new CreateStackCommand({
        StackName: stack,
        TemplateBody: JSON.stringify({
          Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: {
            StepQueueUrl: { Value: aws.resources.stepQueueUrl },
            DelayQueueUrl: { Value: aws.resources.delayQueueUrl },
            EventBusName: { Value: aws.resources.eventBusName },
            JournalTableName: { Value: aws.resources.journalTable },
          },
        }),
      }),
    );
    const restartedBefore = await restartedAt();
    // Act
    const r = await runMain(['--json', '--backend', 'aws', '--stack', stack, 'rollback', 'web', '-f', file], noStackEnv);
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ item: 'web', rotationId: waited, units: ['web'] });
    expect(await versionAt(Stage.Current)).toBe(rotated.id);
    expect(await versionAt(Stage.Previous)).toBe(waited);
    expect(await secretVersion()).toBe(rotated.id);
    // the rewritten Secret reached the stack's restart function through its bus: the consumer restarts
    await eventually('Deployment web restarted after the rollback', async () =>
      (await restartedAt()) !== restartedBefore ? true : undefined,
    );
    expect(aws.runner.errors).toEqual([]);
  });
});

describe('rekey --backend aws, misconfigured', () => {
  it('a missing name is a usage error naming it, and nothing is started or written', async () => {
    // Prepare
    const before = (await aws.aws.journal.listByItem(inventoryName, 'web')).length;
    const state = join(dir, 'state-missing');
    // Act
    const r = await runMain(['--state', state, 'rotate', 'web', '-f', file], { ...stackEnv(), REKEY_STEP_QUEUE_URL: undefined });
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('missing the step queue (--queue-url or REKEY_STEP_QUEUE_URL)')]);
    expect(r.stdout).toBe('');
    expect((await aws.aws.journal.listByItem(inventoryName, 'web')).length).toBe(before);
    expect(existsSync(state)).toBe(false);
  });

  it('a stack that does not exist, a command without an AWS backend and stack flags without it are usage errors', async () => {
    const noStack = await runMain(
      ['--backend', 'aws', '--region', infra.aws.region, '--stack', 'no-such-rekey', 'status', '-f', file],
      noStackEnv,
    );
    expect(noStack.code).toBe(2);
    expect(noStack.stderr).toContain('--stack no-such-rekey: no such stack');
    const apply = await runMain(['apply', '-f', file], stackEnv());
    expect(apply.code).toBe(2);
    expect(apply.stderr).toContain('schedule function');
    const local = await runMain(['--table', 'x', 'status', '-f', file], noStackEnv);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('--table: only with --backend aws');
  });
});
