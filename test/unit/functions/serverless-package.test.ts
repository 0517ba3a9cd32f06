import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { conditionHolds, resolveConditions, serverlessPackage, type CloudFormationTemplate, type Resource } from './sls-package.js';
import { readZip, unzipTo } from './zip.js';
import { inventoryFileDigest } from '../../../shared/domain/inventory/serialized.js';

const run = promisify(execFile);
const KMS = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const MAX_BUNDLE = 1.5 * 1024 * 1024;

let dir: string;
let template: CloudFormationTemplate;
let resources: Record<string, Resource>;

// `serverless package` as a user runs it: no login, and (where it can be enforced) no network, the template read back.
beforeAll(async () => {
  dir = await makeTempDir('rekey-sls-');
  template = await serverlessPackage(dir, { kmsKeyArn: KMS });
  resources = template.Resources;
}, 300_000);
afterAll(() => removeTempDir(dir));

const names = (entries: Map<string, Buffer>, prefix: string): string[] => [...entries.keys()].filter((n) => n.startsWith(prefix)).sort();
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const statements = () =>
  ofType('AWS::IAM::Role').flatMap(([name, r]) =>
    (r.Properties.Policies ?? []).flatMap((p: any) =>
      p.PolicyDocument.Statement.map((s: any) => ({ role: name, ...(s['Fn::If'] ? s['Fn::If'][1] : s) })),
    ),
  );

describe('serverless package', () => {
  it('makes one small bundle per function, each with its handler and the inventory', async () => {
    // Act
    const zips = (await readdir(dir)).filter((f) => f.endsWith('.zip')).sort();

    // Assess
    expect(zips).toEqual(['alert.zip', 'api.zip', 'delay.zip', 'restart.zip', 'schedule.zip', 'step.zip']);
    for (const zip of zips) {
      expect((await stat(join(dir, zip))).size).toBeLessThan(MAX_BUNDLE);
      const fn = zip.replace('.zip', '');
      const entries = readZip(join(dir, zip));
      // The handler's bundle, its own chunks (code splitting: what it imports on demand), and the inventory.
      const names = [...entries.keys()].sort();
      expect(names.filter((n) => !n.startsWith(`functions/${fn}.chunks/`))).toEqual(['examples/apiconnect.yaml', `functions/${fn}.mjs`]);
      for (const n of names.filter((x) => x.startsWith(`functions/${fn}.chunks/`)))
        expect(n).toMatch(/^functions\/[a-z]+\.chunks\/[\w-]+\.mjs$/);
      expect(entries.get(`functions/${fn}.mjs`)!.toString('utf8')).toMatch(/export\s*\{[^}]*handler/);
    }
  });

  it('keeps what a request may not need out of the cold start: the kube client and node-forge are in chunks loaded on demand', async () => {
    for (const fn of ['step', 'restart', 'api']) {
      // Arrange
      const out = join(dir, `unzipped-${fn}`);
      const entries = unzipTo(join(dir, `${fn}.zip`), out);

      // Act: import the handler module and every chunk in a fresh Node, as Lambda would.
      const chunks = names(entries, `functions/${fn}.chunks/`).map((n) => join(out, n));
      const script = `for (const f of ${JSON.stringify([join(out, 'functions', `${fn}.mjs`), ...chunks])}) await import(f); const m = await import(${JSON.stringify(join(out, 'functions', `${fn}.mjs`))}); process.stdout.write(typeof m.handler);`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: out });

      // Assess: the handler imports; what its cold start loads (the bundle and the chunks it imports statically) has
      // neither the kube client nor node-forge
      expect(stdout).toBe('function');
      const loaded = new Set<string>();
      const pending = [`functions/${fn}.mjs`];
      for (let f = pending.pop(); f !== undefined; f = pending.pop()) {
        if (loaded.has(f)) continue;
        loaded.add(f);
        for (const m of entries
          .get(f)!
          .toString('utf8')
          .matchAll(/(?:\bfrom|\bimport)\s*["']\.\/([^"']+)["']/g))
          pending.push(join(dirname(f), m[1]!));
      }
      expect(loaded.size).toBeGreaterThan(1);
      for (const f of loaded) {
        expect(entries.get(f)!.toString('utf8'), f).not.toContain('KubeConfig');
        expect(entries.get(f)!.toString('utf8'), f).not.toContain('forge.pki');
      }
      const kube = chunks.filter((c) =>
        entries
          .get(c.slice(out.length + 1))!
          .toString('utf8')
          .includes('KubeConfig'),
      );
      expect(kube.length, `${fn}: the kube client is in a chunk of its own`).toBeGreaterThan(0);
    }
  });

  it("carries none of the CLI's worker threads: functions make their leaves and write in process, with no worker to start", async () => {
    for (const zip of (await readdir(dir)).filter((f) => f.endsWith('.zip'))) {
      for (const [name, data] of readZip(join(dir, zip))) {
        const text = data.toString('utf8');
        expect(text, `${zip}: ${name}`).not.toContain('rekey-sign-worker');
        expect(text, `${zip}: ${name}`).not.toContain('rekey-file-worker');
        expect(text, `${zip}: ${name}`).not.toContain('signing leaves on worker threads');
      }
    }
  });

  it("runs each packaged handler's first invocation from its zip alone, with the inventory validated at package time embedded", async () => {
    // Events that build the runtime and load what a first request loads, then stop at a refusal before any AWS call
    const cases: Record<string, { event: unknown; answer: unknown }> = {
      schedule: {
        event: { repair: 'not a boolean' },
        answer: { started: 0, issued: 0, expiring: 0, drift: 0, skipped: 0, rotations: [], requests: 0, mode: 'due' },
      },
      step: { event: { Records: [] }, answer: { batchItemFailures: [] } },
      delay: { event: { Records: [] }, answer: { batchItemFailures: [] } },
      restart: { event: { source: 'not rekey' }, answer: 'rejected' },
      alert: { event: { Records: [{ Sns: { MessageId: 'm-1', Message: '{}' } }] }, answer: { alarms: 0, rejected: 1, decisions: {} } },
    };
    const digest = inventoryFileDigest(await readFile('examples/apiconnect.yaml', 'utf8'));
    for (const [fn, { event, answer }] of Object.entries(cases)) {
      // Arrange
      const out = join(dir, `first-${fn}`);
      const entries = unzipTo(join(dir, `${fn}.zip`), out);
      const env = {
        PATH: process.env.PATH,
        LAMBDA_TASK_ROOT: out,
        REKEY_INVENTORY_FILE: 'examples/apiconnect.yaml',
        REKEY_STEP_QUEUE_URL: 'http://127.0.0.1:9/000000000000/step.fifo',
        REKEY_DELAY_QUEUE_URL: 'http://127.0.0.1:9/000000000000/delay',
        REKEY_JOURNAL_TABLE: 'journal',
        AWS_REGION: 'us-east-1',
        LOG_LEVEL: 'error',
      };

      // Act: Lambda's init (import) and first invocation in a fresh Node
      const script = `const m = await import(${JSON.stringify(join(out, 'functions', `${fn}.mjs`))}); const r = await m.handler(${JSON.stringify(event)}, { awsRequestId: 'r-1', getRemainingTimeInMillis: () => 30000 }); process.stdout.write('\\n@@' + JSON.stringify(r));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: out, env });

      // Assess: the answer, and the inventory's embedded copy tied to the packaged file's text
      expect(JSON.parse(stdout.slice(stdout.lastIndexOf('@@') + 2)), fn).toEqual(answer);
      if (fn !== 'delay') {
        const holders = names(entries, `functions/${fn}.chunks/`).filter((n) => entries.get(n)!.toString('utf8').includes(digest));
        expect(holders, `${fn}: one chunk holds the packaged inventory`).toHaveLength(1);
      }
    }
  });

  it('declares arm64 nodejs22.x functions with log retention and their own roles', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(6);
    for (const [, f] of functions) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.Architectures).toEqual(['arm64']);
      expect(f.Properties.Role).toHaveProperty('Fn::GetAtt');
    }
    for (const [, g] of ofType('AWS::Logs::LogGroup')) expect(g.Properties.RetentionInDays).toBe(30);
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it('names resources in every IAM statement: no * anywhere, Secrets Manager only on rekey/<inventory>/*, KMS only on the key', () => {
    const all = statements();
    expect(all.length).toBeGreaterThan(10);
    for (const s of all) {
      const res = JSON.stringify(s.Resource);
      expect(res, `${s.role}: ${JSON.stringify(s.Action)}`).not.toBe('"*"');
      const actions: string[] = [s.Action].flat();
      if (actions.some((a) => a.startsWith('secretsmanager:'))) {
        // examples/apiconnect.yaml, the default inventory, is named apiconnect: never every inventory's rekey/*.
        expect(res).toMatch(/:secret:rekey\/apiconnect\//);
        expect(res).not.toContain(':secret:rekey/*');
        expect(actions).not.toContain('secretsmanager:*');
        expect(actions).not.toContain('secretsmanager:ListSecrets');
      }
      if (actions.some((a) => a.startsWith('kms:'))) expect(s.Resource).toBe(KMS);
    }
    // The API writes only its own signing key; it never gets the rotation's write rights on items.
    const apiWrites = all.filter(
      (s) => s.role === 'ApiRole' && [s.Action].flat().some((a: string) => a === 'secretsmanager:PutSecretValue'),
    );
    expect(apiWrites.map((s) => JSON.stringify(s.Resource))).toEqual([expect.stringContaining(':secret:rekey/apiconnect/_api/*')]);
    // The delay function runs restart checks (the restart function's work): it reads the store, never writes it.
    const delay = all.filter((s) => s.role === 'DelayRole' && s.Effect === 'Allow').flatMap((s) => [s.Action].flat());
    expect(delay.filter((a: string) => a.startsWith('secretsmanager:')).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:ListSecretVersionIds',
    ]);
  });

  it('lets the functions read the kubeconfig secret and none of them write it', () => {
    const all = statements();
    const kubeconfig = /:secret:rekey\/apiconnect\/kubeconfig(-\?{6})?"?$/;
    const writes = [
      'secretsmanager:CreateSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecret',
      'secretsmanager:UpdateSecretVersionStage',
      'secretsmanager:DeleteSecret',
    ];
    for (const role of ['ScheduleRole', 'StepRole', 'RestartRole', 'DelayRole', 'AlertRole']) {
      const own = all.filter((s) => s.role === role);
      const reads = own.filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes('secretsmanager:GetSecretValue'));
      expect(
        reads.map((s) => JSON.stringify(s.Resource)),
        role,
      ).toEqual([expect.stringContaining(':secret:rekey/apiconnect/*')]);
      const allowedWrites = own.filter((s) => s.Effect === 'Allow' && [s.Action].flat().some((a: string) => writes.includes(a)));
      if (allowedWrites.length === 0) continue; // restart: read-only on the whole store
      const denies = own.filter((s) => s.Effect === 'Deny');
      expect(denies, role).toHaveLength(1);
      expect([denies[0].Action].flat(), role).toEqual(expect.arrayContaining(writes));
      const denied = [denies[0].Resource].flat().map((r: any) => r['Fn::Sub'] ?? r);
      expect(denied, role).toHaveLength(2);
      for (const r of denied) expect(r).toMatch(kubeconfig);
    }
    for (const role of ['RestartRole', 'DelayRole', 'AlertRole'])
      expect(
        all
          .filter((s) => s.role === role)
          .flatMap((s) => [s.Action].flat())
          .filter((a: string) => writes.includes(a)),
        role,
      ).toEqual([]);
  });

  it('subscribes the alert function to the alarm topic and routes the Alertmanager webhook to it', () => {
    const subscriptions = ofType('AWS::SNS::Subscription').map(([, r]) => r.Properties);
    expect(subscriptions).toEqual([expect.objectContaining({ Protocol: 'lambda', TopicArn: { Ref: 'AlarmTopic' } })]);
    const routes = ofType('AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties.RouteKey)
      .sort();
    expect(routes).toEqual(['$default', 'POST /v1/alerts/alertmanager']);
    const alert = statements().filter((s) => s.role === 'AlertRole');
    expect(alert.flatMap((s) => [s.Action].flat()).filter((a: string) => a.startsWith('sqs:'))).toEqual(['sqs:SendMessage']);
  });

  it('lets every role that writes the journal send each DynamoDB operation the journal adapter sends', async () => {
    const source = await readFile('shared/adapters/aws/dynamodb-journal.ts', 'utf8');
    const sent = [...new Set([...source.matchAll(/new (\w+)Command\(/g)].map((m) => m[1]!))];
    // The document client's command names and the IAM actions that authorise them (a transaction, those of its parts).
    const iam: Record<string, string[]> = {
      Get: ['dynamodb:GetItem'],
      Put: ['dynamodb:PutItem'],
      Update: ['dynamodb:UpdateItem'],
      Delete: ['dynamodb:DeleteItem'],
      Query: ['dynamodb:Query'],
      BatchWrite: ['dynamodb:BatchWriteItem'],
      TransactWrite: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
    };
    const actions = sent.flatMap((name) => iam[name] ?? [`unknown command ${name}`]);
    expect(sent.length).toBeGreaterThan(3);
    const journalArn = (s: any) => [s.Resource].flat().some((r: any) => JSON.stringify(r).includes('JournalTable'));
    for (const role of ['StepRole', 'RestartRole', 'DelayRole', 'ScheduleRole']) {
      const allowed = statements()
        .filter((s) => s.role === role && journalArn(s) && !s.Condition)
        .flatMap((s) => [s.Action].flat());
      for (const action of actions) expect(allowed, `${role} ${action}`).toContain(action);
    }
  });

  it('throttles the HTTP API stage (outer limit) and lets api and alert update only the rate#* window counters', () => {
    const stage = ofType('AWS::ApiGatewayV2::Stage').map(([, r]) => r.Properties);
    expect(stage).toEqual([
      expect.objectContaining({
        DefaultRouteSettings: { ThrottlingRateLimit: expect.anything(), ThrottlingBurstLimit: expect.anything() },
      }),
    ]);
    expect(Number(stage[0]!.DefaultRouteSettings.ThrottlingRateLimit)).toBeGreaterThan(0);
    const updates = statements().filter((s) => [s.Action].flat().includes('dynamodb:UpdateItem') && s.Condition);
    for (const role of ['ApiRole', 'AlertRole']) {
      const mine = updates.filter((s) => s.role === role);
      expect(mine, role).toHaveLength(1);
      expect(mine[0].Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys']).toEqual(['rate#*']);
    }
    const functions = ofType('AWS::Lambda::Function').map(([, r]) => r.Properties.Environment?.Variables ?? {});
    expect(functions.every((v) => v.REKEY_API_RATE_LIMIT === '500' && v.REKEY_API_RATE_WINDOW_SECONDS === '10')).toBe(true);
  });

  it('without the apiDomainName parameter: no custom domain, no API mapping, the default execute-api endpoint kept', () => {
    // The domain's resources are in the template under a condition that does not hold: CloudFormation creates none.
    expect(conditionHolds(template, 'HasApiDomain')).toBe(false);
    const conditional = Object.entries(resources).filter(([, r]) =>
      ['AWS::ApiGatewayV2::DomainName', 'AWS::ApiGatewayV2::ApiMapping'].includes(r.Type),
    );
    expect(conditional.map(([name, r]) => [name, r.Condition])).toEqual([
      ['ApiDomainName', 'HasApiDomain'],
      ['ApiDomainMapping', 'HasApiDomain'],
    ]);
    expect(template.Outputs?.ApiDomainTarget?.Condition).toBe('HasApiDomain');
    expect(resolveConditions(template, resources.HttpApi!.Properties.DisableExecuteApiEndpoint)).toBe(false);
  });

  it('lets EventBridge send to the events DLQ only for the restart rule (aws:SourceArn)', () => {
    const policy = resources.EventsDeadLetterQueuePolicy!.Properties;
    const rule = ofType('AWS::Events::Rule')
      .map(([, r]) => r.Properties)
      .find((p) => p.Targets?.some((t: any) => t.DeadLetterConfig));
    expect(rule?.Targets[0].DeadLetterConfig.Arn).toEqual({ 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] });
    const statements = policy.PolicyDocument.Statement.filter((s: any) => s.Principal?.Service === 'events.amazonaws.com');
    expect(statements).toHaveLength(1);
    const sourceArn = statements[0].Condition?.ArnEquals?.['aws:SourceArn']?.['Fn::Sub'];
    // The rule's ARN on the stack's bus: rule/<bus name>/<rule name>.
    expect(sourceArn).toBe(
      `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/${resources.EventBus!.Properties.Name}/${rule!.Name}`,
    );
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
    const rules = ofType('AWS::Events::Rule')
      .map(([, r]) => r.Properties)
      .filter((p) => p.EventPattern);
    const restart = rules.find((p) => p.EventPattern.source?.includes('rekey'));
    expect(restart?.EventPattern['detail-type']).toEqual(['SecretSynced', 'RestartRequested']);
    expect(restart?.EventBusName).toEqual({ 'Fn::GetAtt': ['EventBus', 'Name'] });
  });

  it('keeps the journal table shape the adapter queries (GSIs byItem, byStatus and byRenewal, TTL expiresAt)', () => {
    const t = resources.JournalTable!.Properties;
    expect(t.GlobalSecondaryIndexes.map((g: any) => g.IndexName)).toEqual(['byItem', 'byStatus', 'byRenewal']);
    expect(t.GlobalSecondaryIndexes[2].KeySchema).toEqual([
      { AttributeName: 'renewPart', KeyType: 'HASH' },
      { AttributeName: 'renewKey', KeyType: 'RANGE' },
    ]);
    expect(t.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
  });
});
