import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Resource = { Type: string; Condition?: string; Properties: Record<string, any> };
export interface CloudFormationTemplate {
  readonly Resources: Record<string, Resource>;
  readonly Conditions?: Record<string, unknown>;
  readonly Outputs?: Record<string, { Condition?: string; Value: unknown }>;
}

/** True when this machine can run a command in a network namespace of its own (root, as in CI): no network at all. */
async function canIsolateNetwork(): Promise<boolean> {
  return run('unshare', ['-n', 'true']).then(
    () => true,
    () => false,
  );
}

/**
 * `serverless package` as a user runs it: no login, and (where it can be enforced) no network, into `dir`, with
 * `--param name=value` for each of `params`; returns the CloudFormation template it wrote.
 */
export async function serverlessPackage(dir: string, params: Readonly<Record<string, string>>): Promise<CloudFormationTemplate> {
  const args = ['package', '--stage', 'test', '--package', dir, ...Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${v}`])];
  const [cmd, argv] = (await canIsolateNetwork())
    ? ['unshare', ['-n', './node_modules/.bin/serverless', ...args]]
    : ['./node_modules/.bin/serverless', args];
  await run(cmd, argv, { cwd: process.cwd(), env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' }, timeout: 240_000 });
  return JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as CloudFormationTemplate;
}

/**
 * Whether a CloudFormation condition holds, for the conditions these templates use (Fn::Equals of literals, Fn::Not,
 * Condition references): what CloudFormation will decide at deploy time, decided here on the packaged template.
 */
export function conditionHolds(template: CloudFormationTemplate, name: string): boolean {
  const evaluate = (c: any): boolean => {
    if (c['Fn::Equals']) return JSON.stringify(c['Fn::Equals'][0]) === JSON.stringify(c['Fn::Equals'][1]);
    if (c['Fn::Not']) return !evaluate(c['Fn::Not'][0]);
    if (c.Condition) return evaluate(template.Conditions?.[c.Condition]);
    throw new Error(`condition not understood here: ${JSON.stringify(c)}`);
  };
  const condition = template.Conditions?.[name];
  if (!condition) throw new Error(`no condition ${name} in the template`);
  return evaluate(condition);
}

/** `value` as CloudFormation will deploy it: each Fn::If replaced by its chosen branch, AWS::NoValue left out. */
export function resolveConditions(template: CloudFormationTemplate, value: unknown): unknown {
  const NO_VALUE = Symbol('AWS::NoValue');
  const walk = (v: any): any => {
    if (Array.isArray(v)) return v.map(walk).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return v;
    if (v.Ref === 'AWS::NoValue') return NO_VALUE;
    if (v['Fn::If']) {
      const [name, then, otherwise] = v['Fn::If'];
      return walk(conditionHolds(template, name) ? then : otherwise);
    }
    return Object.fromEntries(
      Object.entries(v)
        .map(([k, x]) => [k, walk(x)])
        .filter(([, x]) => x !== NO_VALUE),
    );
  };
  return walk(value);
}
