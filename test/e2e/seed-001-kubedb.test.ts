// Seed 001 (KubeDB RotateAuth) end to end: in dc1 a CRD shaped like KubeDB's Postgres, a Postgres object and the
// StatefulSet of its pods (kwok runs them); the database is the test infrastructure's real PostgreSQL. `rekey
// rotate` pauses the object while the password changes, restarts the pods, resumes the object; the new password
// logs in, the old one is refused (single) or still works until the next rotation (alternating). The same on the
// Lambda path: moto (Secrets Manager holding the admin URL, SQS, EventBridge, DynamoDB) + dc1 + PostgreSQL.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, type V1StatefulSet } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { RotationStatus } from '../../shared/domain/rotation/record.js';
import { startAwsLambdaRunner, type AwsLambdaRunner } from '../fixtures/aws-lambda-runner.js';
import { REPO_ROOT, runMain } from '../fixtures/cli.js';
import { canLogIn as canRoleLogIn, connectAdmin, dropRoles } from '../fixtures/postgres.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { loadInfraEnv } from '../infra/env.js';
import { createPostgres, installPostgresCrd } from '../integration/kube/crd.js';
import { Admin, eventually, podSpec, uniqueName } from '../integration/kube/support.js';

const EXAMPLE = readFileSync(join(REPO_ROOT, 'examples', 'kubedb-rotate-auth.yaml'), 'utf8');
const infra = loadInfraEnv({ require: ['kube', 'postgres'] });
const PAUSED = 'kubedb.com/paused';

let admin: Admin;
let pgAdmin: pg.Client;
let root: string;
const namespaces: string[] = [];
const roles: string[] = [];

beforeAll(async () => {
  admin = await Admin.of('dc1');
  await installPostgresCrd(admin);
  pgAdmin = await connectAdmin(infra.postgres);
  root = await makeTempDir('rekey-seed001-');
});
afterAll(async () => {
  for (const ns of namespaces) await admin.deleteNamespace(ns);
  await dropRoles(pgAdmin, roles);
  await pgAdmin?.end();
  await removeTempDir(root);
});

/** A namespace with the Postgres object `pg` and its StatefulSet `pg` (2 pods reading the Secret pg-auth), and a role. */
async function database(prefix: string): Promise<{ ns: string; role: string }> {
  const ns = uniqueName(prefix);
  namespaces.push(ns);
  const role = `rk_${prefix.replace(/-/g, '_')}_${randomBytes(3).toString('hex')}`;
  roles.push(role, `${role}_alt`);
  await admin.createNamespace(ns);
  await createPostgres(admin, ns, 'pg');
  const sts: V1StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'pg', namespace: ns },
    spec: {
      serviceName: 'pg',
      replicas: 2,
      selector: { matchLabels: { app: 'pg' } },
      template: { metadata: { labels: { app: 'pg' } }, spec: { ...podSpec({ envFrom: 'pg-auth' }), terminationGracePeriodSeconds: 0 } },
    },
  };
  await admin.apply(sts);
  await statefulSetReady(ns);
  // The role as the operator created it, with a password rekey never learns.
  await pgAdmin.query(
    `CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(`operator-${randomBytes(8).toString('hex')}`)}`,
  );
  return { ns, role };
}

async function statefulSetReady(ns: string): Promise<V1StatefulSet> {
  return eventually(
    `StatefulSet ${ns}/pg ready`,
    async () => {
      const s = await admin.apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns });
      const st = s.status ?? { replicas: 0 };
      const ok =
        (st.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0) &&
        st.readyReplicas === 2 &&
        st.updatedReplicas === 2 &&
        st.currentRevision === st.updateRevision;
      return ok ? s : undefined;
    },
    180_000,
  );
}

/** The example, in this test's namespace, for this test's role, pointing consumers at the infrastructure's server. */
function inventoryFile(ns: string, role: string, strategy: 'single' | 'alternating', urlFrom = 'env:PG_ADMIN_URL'): string {
  const text = EXAMPLE.replace('namespace: demo}', `namespace: ${ns}}`)
    .replace('metadata: {name: kubedb-demo}', `metadata: {name: seed001-${ns}}`)
    .replace('urlFrom: env:PG_ADMIN_URL', `urlFrom: "${urlFrom}"`)
    .replace('role: app, strategy: single', `role: ${role}, strategy: ${strategy}`)
    .replace('host: pg.demo.svc, port: 5432, dbname: app', `host: localhost, port: ${infra.postgres.port}, dbname: postgres`);
  const file = join(root, `${ns}.yaml`);
  writeFileSync(file, text);
  return file;
}

const readOwner = async (ns: string) =>
  (await admin.kc
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObject({ group: 'kubedb.com', version: 'v1', namespace: ns, plural: 'postgreses', name: 'pg' })) as {
    metadata: { annotations?: Record<string, string> };
  };
const verifierOf = async (role: string) =>
  String((await pgAdmin.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).rows[0]?.rolpassword ?? '');
const secretOf = async (ns: string) => {
  const s = await admin.core.readNamespacedSecret({ name: 'pg-auth', namespace: ns });
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
};
const podUids = async (ns: string) =>
  (await admin.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=pg' })).items.map((p) => p.metadata?.uid ?? '').sort();
const canLogIn = (user: string, password: string) => canRoleLogIn(infra.postgres, user, password);

interface Sample {
  readonly paused: boolean;
  readonly verifier: string;
}

/** Samples the owner's pause mark and the role's stored verifier until stopped: what an observer saw, in order. */
function observe(ns: string, role: string): { stop: () => Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const sample = async () => {
    const [owner, verifier] = await Promise.all([readOwner(ns), verifierOf(role)]);
    samples.push({ paused: owner.metadata.annotations?.[PAUSED] === 'true', verifier });
  };
  const loop = (async () => {
    while (running) {
      await sample();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      // A read in flight when the command returned may predate its last step: the final state is read after it.
      await sample();
      return samples;
    },
  };
}

/** The owner was paused when the password changed, and resumed at the end. */
function expectPausedAroundChange(samples: readonly Sample[], before: string): void {
  const changed = samples.findIndex((s) => s.verifier !== before);
  expect(changed, 'the password changed while observed').toBeGreaterThan(0);
  expect(samples[changed]!.paused, 'owner paused when the password changed').toBe(true);
  expect(samples[changed - 1]!.verifier).toBe(before);
  expect(samples.at(-1)!.paused, 'owner resumed at the end').toBe(false);
}

describe.each(['single', 'alternating'] as const)('seed 001 on dc1 with the CLI, strategy %s', (strategy) => {
  it('pauses the Postgres object while the password changes, restarts its pods, resumes it; the new password logs in', async () => {
    // Prepare: the first password from apply (through the same machine)
    const { ns, role } = await database(`seed001-${strategy.slice(0, 3)}`);
    const file = inventoryFile(ns, role, strategy);
    const state = join(root, `state-${ns}`);
    const kubeconfig = infra.kube.kubeconfig;
    const cliEnv = { PG_ADMIN_URL: infra.postgres.adminUrl };
    const applied = await runMain(['--state', state, 'apply', '-f', file, '--kubeconfig', kubeconfig], cliEnv);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    await statefulSetReady(ns);
    const first = await secretOf(ns);
    const uidsBefore = await podUids(ns);
    const login = first.username!;
    const verifierBefore = await verifierOf(strategy === 'single' ? role : `${role}_alt`);
    const watch = observe(ns, strategy === 'single' ? role : `${role}_alt`);
    // Act
    const rotated = await runMain(['--state', state, '--json', 'rotate', 'app-auth', '-f', file, '--kubeconfig', kubeconfig], cliEnv);
    const samples = await watch.stop();
    // Assess: completed through every step
    expect(rotated.code, rotated.stderr).toBe(0);
    const { rotation } = JSON.parse(rotated.stdout) as { rotation: { status: string; history: { step: string; status: string }[] } };
    expect(rotation.status).toBe(RotationStatus.Completed);
    expect(rotation.history.map((h) => h.step)).toEqual([
      'pause',
      'issue',
      'set-in-database',
      'test-login',
      'promote',
      'sync',
      'restart',
      'resume',
      'verify',
    ]);
    // the owner was observed paused while the password changed, and is resumed
    expectPausedAroundChange(samples, verifierBefore);
    expect((await readOwner(ns)).metadata.annotations?.[PAUSED]).toBeUndefined();
    // the pods restarted
    const sts = await statefulSetReady(ns);
    expect(sts.spec?.template.metadata?.annotations?.['rekey/restartedAt']).toBeDefined();
    const uidsAfter = await podUids(ns);
    expect(uidsAfter.filter((u) => uidsBefore.includes(u))).toEqual([]);
    // the new password logs in; the old one is refused (single) or still works (alternating)
    const second = await secretOf(ns);
    expect(second.password).not.toBe(first.password);
    expect(await canLogIn(second.username!, second.password!)).toBe(true);
    if (strategy === 'single') {
      expect(second.username).toBe(role);
      expect(await canLogIn(login, first.password!)).toBe(false);
    } else {
      expect([login, second.username]).toEqual([role, `${role}_alt`]);
      expect(await canLogIn(login, first.password!)).toBe(true);
    }
    // no password in what rekey printed
    const printed = applied.stdout + applied.stderr + rotated.stdout + rotated.stderr;
    for (const p of [first.password!, second.password!]) expect(printed.includes(p), 'a password leaked').toBe(false);
  });
});

describe('seed 001 on the Lambda path: moto + dc1 + PostgreSQL', () => {
  let aws: AwsLambdaRunner;
  let ns: string;
  let role: string;

  beforeAll(async () => {
    ({ ns, role } = await database('seed001-aws'));
    // The admin URL under rekey/<inventory>/, the only prefix the functions' role may read.
    const adminSecret = `rekey/seed001-${ns}/pg-admin`;
    aws = await startAwsLambdaRunner({
      name: 'seed001',
      require: ['kube', 'postgres'],
      inventory: () =>
        loadInventory(readFileSync(inventoryFile(ns, role, 'single', `secretsmanager:${adminSecret}`), 'utf8'), 'seed001.yaml'),
      // As in Lambda: the kubeconfig and the admin URL are secrets in Secrets Manager.
      kubeconfig: infra.kube.kubeconfig,
      secrets: () => ({ [adminSecret]: infra.postgres.adminUrl }),
      env: { PG_ADMIN_URL: undefined },
    });
    expect(adminSecret.startsWith(`rekey/${aws.runtime().inventory.name}/`)).toBe(true);
  }, 300_000);
  afterAll(async () => {
    await aws?.stop();
  });

  it('a rotation from its first SQS message pauses the object, sets the password, restarts the pods and resumes it', async () => {
    // Prepare: a first password, then the rotation under observation
    const initial = await aws.waitForRotation((await aws.startRotation('app-auth', 'first password')).id);
    expect(initial.status, initial.error).toBe(RotationStatus.Completed);
    await statefulSetReady(ns);
    const first = await secretOf(ns);
    const uidsBefore = await podUids(ns);
    const verifierBefore = await verifierOf(role);
    const watch = observe(ns, role);
    // Act
    const record = await aws.startRotation('app-auth', 'seed 001 on Lambda');
    const done = await aws.waitForRotation(record.id);
    const samples = await watch.stop();
    // Assess
    expect(done.status, done.error).toBe(RotationStatus.Completed);
    expect(done.restarts.dc1).toMatchObject({ state: 'completed' });
    expectPausedAroundChange(samples, verifierBefore);
    await statefulSetReady(ns);
    expect((await podUids(ns)).filter((u) => uidsBefore.includes(u))).toEqual([]);
    const second = await secretOf(ns);
    expect(await canLogIn(role, second.password!)).toBe(true);
    expect(await canLogIn(role, first.password!)).toBe(false);
    expect(aws.runner.errors).toEqual([]);
    // nothing the functions recorded holds a password
    const journal = JSON.stringify(await aws.aws.journal.listByItem(aws.runtime().inventory.name, 'app-auth'));
    for (const p of [first.password!, second.password!]) expect(journal.includes(p)).toBe(false);
  });
});
