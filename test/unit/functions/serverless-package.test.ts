import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { readZip } from './zip.js';

const run = promisify(execFile);
const KMS = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const MAX_BUNDLE = 1.5 * 1024 * 1024;

type Resource = { Type: string; Properties: Record<string, any> };
let dir: string;
let resources: Record<string, Resource>;

/** True when this machine can run a command in a network namespace of its own (root, as in CI): no network at all. */
async function canIsolateNetwork(): Promise<boolean> {
  return run('unshare', ['-n', 'true']).then(
    () => true,
    () => false,
  );
}

// `serverless package` as a user runs it: no login, and (where it can be enforced) no network, the template read back.
beforeAll(async () => {
  dir = await makeTempDir('rekey-sls-');
  const args = ['package', '--stage', 'test', '--package', dir, '--param', `kmsKeyArn=${KMS}`];
  const [cmd, argv] = (await canIsolateNetwork()) ? ['unshare', ['-n', './node_modules/.bin/serverless', ...args]] : ['./node_modules/.bin/serverless', args];
  await run(cmd as string, argv as string[], { cwd: process.cwd(), env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' }, timeout: 240_000 });
  resources = JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')).Resources;
}, 300_000);
afterAll(() => removeTempDir(dir));

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const statements = () =>
  ofType('AWS::IAM::Role').flatMap(([name, r]) =>
    (r.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement.map((s: any) => ({ role: name, ...(s['Fn::If'] ? s['Fn::If'][1] : s) }))),
  );

describe('serverless package', () => {
  it('makes one small bundle per function, each with its handler and the inventory', async () => {
    // Act
    const zips = (await readdir(dir)).filter((f) => f.endsWith('.zip')).sort();

    // Assess
    expect(zips).toEqual(['delay.zip', 'restart.zip', 'schedule.zip', 'step.zip']);
    for (const zip of zips) {
      expect((await stat(join(dir, zip))).size).toBeLessThan(MAX_BUNDLE);
      const entries = readZip(join(dir, zip));
      expect([...entries.keys()].sort()).toEqual(['examples/apiconnect.yaml', `functions/${zip.replace('.zip', '')}.mjs`]);
      expect(entries.get(`functions/${zip.replace('.zip', '')}.mjs`)!.toString('utf8')).toMatch(/export\s*\{[^}]*handler/);
    }
  });

  it('declares arm64 nodejs22.x functions with log retention and their own roles', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(4);
    for (const [, f] of functions) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.Architectures).toEqual(['arm64']);
      expect(f.Properties.Role).toHaveProperty('Fn::GetAtt');
    }
    for (const [, g] of ofType('AWS::Logs::LogGroup')) expect(g.Properties.RetentionInDays).toBe(30);
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it('names resources in every IAM statement: no * anywhere, Secrets Manager only on rekey/*, KMS only on the key', () => {
    const all = statements();
    expect(all.length).toBeGreaterThan(10);
    for (const s of all) {
      const res = JSON.stringify(s.Resource);
      expect(res, `${s.role}: ${JSON.stringify(s.Action)}`).not.toBe('"*"');
      const actions: string[] = [s.Action].flat();
      if (actions.some((a) => a.startsWith('secretsmanager:'))) {
        expect(res).toContain(':secret:rekey/*');
        expect(actions).not.toContain('secretsmanager:*');
        expect(actions).not.toContain('secretsmanager:ListSecrets');
      }
      if (actions.some((a) => a.startsWith('kms:'))) expect(s.Resource).toBe(KMS);
    }
    const delay = all.filter((s) => s.role === 'DelayRole').flatMap((s) => [s.Action].flat());
    expect(delay.some((a: string) => a.startsWith('secretsmanager:') || a.startsWith('dynamodb:'))).toBe(false);
  });

  it('has the FIFO step queue with a FIFO DLQ (redrive), partial batch responses, and an alarm on DLQ depth', () => {
    const steps = resources.StepQueue!.Properties;
    expect(steps.FifoQueue).toBe(true);
    expect(steps.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': ['StepDeadLetterQueue', 'Arn'] });
    expect(resources.StepDeadLetterQueue!.Properties.FifoQueue).toBe(true);
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
    expect(mappings).toHaveLength(2);
    for (const m of mappings) expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    const alarm = resources.StepDeadLetterAlarm!.Properties;
    expect(alarm.MetricName).toBe('ApproximateNumberOfMessagesVisible');
    expect(alarm.Dimensions[0].Value).toEqual({ 'Fn::GetAtt': ['StepDeadLetterQueue', 'QueueName'] });
  });

  it('routes SecretSynced and RestartRequested on the rekey bus to the restart function', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties).filter((p) => p.EventPattern);
    const restart = rules.find((p) => p.EventPattern.source?.includes('rekey'));
    expect(restart?.EventPattern['detail-type']).toEqual(['SecretSynced', 'RestartRequested']);
    expect(restart?.EventBusName).toEqual({ 'Fn::GetAtt': ['EventBus', 'Name'] });
  });

  it('keeps the journal table shape the adapter queries (GSIs byItem and byStatus, TTL expiresAt)', () => {
    const t = resources.JournalTable!.Properties;
    expect(t.GlobalSecondaryIndexes.map((g: any) => g.IndexName)).toEqual(['byItem', 'byStatus']);
    expect(t.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
  });
});
