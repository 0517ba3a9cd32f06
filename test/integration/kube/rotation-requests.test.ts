import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, CONTEXTS, eventually, kubeconfigPath, uniqueName } from './support.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO, 'cli/main.ts');
const CRD_FILE = join(REPO, 'deploy/crds/rotationrequests.rekey.dev.yaml');
const API = 'rekey.dev/v1alpha1';
const RBAC_FILE = join(REPO, 'deploy/rbac.yaml');
const SERVICE_ACCOUNT_USER = 'system:serviceaccount:rekey-system:rekey';

interface RequestObject {
  metadata: { name: string; namespace: string; uid: string };
  spec: { item: string };
  status?: {
    phase?: string;
    rotationId?: string;
    startTime?: string;
    completionTime?: string;
    message?: string;
    conditions?: { type: string; status: string; reason: string }[];
  };
}

/** The CRD as shipped, installed in a cluster, served before the test goes on. */
async function installCrd(admin: Admin): Promise<void> {
  const [crd] = loadAll(readFileSync(CRD_FILE, 'utf8')) as object[];
  await admin.apply(crd as never);
  await eventually(`${admin.context}: RotationRequest served`, async () =>
    (await admin.objects.list(API, 'RotationRequest', 'default').catch(() => undefined)) ? true : undefined,
  );
}

describe('RotationRequest (rekey.dev/v1alpha1) picked up by `rekey scan` in dc1 and dc2', () => {
  const ns = uniqueName('rekey-rotreq');
  let dir: string;
  let kubeconfig: string;
  let inv: string;
  let state: string;
  let admins: Record<(typeof CONTEXTS)[number], Admin>;

  const rekey = (args: readonly string[]) =>
    run(process.execPath, ['--import', 'tsx', CLI, '--state', state, ...args], { cwd: REPO, timeoutMs: 180_000 });
  const request = async (admin: Admin, name: string): Promise<RequestObject> =>
    (await admin.objects.read({ apiVersion: API, kind: 'RotationRequest', metadata: { name, namespace: ns } })) as unknown as RequestObject;
  const version = async (admin: Admin, secret: string) =>
    (await admin.core.readNamespacedSecret({ name: secret, namespace: ns })).metadata?.annotations?.['rekey/version'];

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    for (const a of Object.values(admins)) {
      await installCrd(a);
      await a.createNamespace(ns);
    }
    dir = await makeTempDir('rekey-rotreq-');
    state = join(dir, 'state');
    inv = join(dir, 'inventory.yaml');
    await writeFile(
      inv,
      `apiVersion: rekey/v1
kind: Inventory
metadata: {name: rotreq}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities: [{name: ca, commonName: rotreq ca, key: ECDSA-P256}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, secret: {name: web-tls, namespace: ${ns}}}
  - {name: api, issuer: ca, usage: client, commonName: api, secret: {name: api-tls, namespace: ${ns}, clusters: [dc2]}}
`,
    );
    const applied = await rekey(['apply', '-f', inv, '--kubeconfig', kubeconfig]);
    expect(applied.status, applied.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    for (const a of Object.values(admins ?? {})) await a.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('starts each request once (rotation id = uid), writes Pending -> Progressing -> Succeeded with conditions and times; unknown items fail; other inventories are left alone', async () => {
    // Prepare
    const before = { dc1: await version(admins.dc1, 'web-tls'), dc2: await version(admins.dc2, 'api-tls') };
    const create = (admin: Admin, name: string, spec: Record<string, string>) =>
      admin.objects.create({ apiVersion: API, kind: 'RotationRequest', metadata: { name, namespace: ns }, spec } as never);
    await create(admins.dc1, 'rotate-web', { item: 'web', reason: 'kubectl test' });
    await create(admins.dc2, 'rotate-api', { item: 'api' });
    await create(admins.dc2, 'rotate-nothing', { item: 'no-such-item' });
    await create(admins.dc1, 'someone-else', { item: 'web', inventory: 'another-inventory' });

    // Act
    const scanned = await rekey(['scan', '-f', inv, '--kubeconfig', kubeconfig, '--json']);
    const again = await rekey(['scan', '-f', inv, '--kubeconfig', kubeconfig, '--json']);

    // Assess
    expect(scanned.status, scanned.stderr).toBe(0);
    const web = await request(admins.dc1, 'rotate-web');
    const api = await request(admins.dc2, 'rotate-api');
    for (const r of [web, api]) {
      expect(r.status?.phase, JSON.stringify(r.status)).toBe('Succeeded');
      expect(r.status?.rotationId).toBe(r.metadata.uid);
      expect(r.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'Progressing=False', 'Succeeded=True']);
      expect(Date.parse(r.status!.completionTime!)).toBeGreaterThanOrEqual(Date.parse(r.status!.startTime!));
    }
    // The rotation really ran in each cluster: the Secrets hold the version the request's rotation issued.
    expect(await version(admins.dc1, 'web-tls')).toBe(web.metadata.uid);
    expect(await version(admins.dc2, 'web-tls')).toBe(web.metadata.uid);
    expect(await version(admins.dc2, 'api-tls')).toBe(api.metadata.uid);
    expect([before.dc1, before.dc2]).not.toContain(web.metadata.uid);
    const nothing = await request(admins.dc2, 'rotate-nothing');
    expect(nothing.status?.phase).toBe('Failed');
    expect(nothing.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('UnknownItem');
    expect((await request(admins.dc1, 'someone-else')).status).toBeUndefined();
    // Seen again: nothing starts twice, nothing is written again.
    expect(again.status, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as { started: unknown[]; requests: unknown[]; rotations: unknown[] };
    expect(second.started).toEqual([]);
    expect(second.requests).toEqual([]);
    expect(second.rotations).toEqual([]);
    const first = JSON.parse(scanned.stdout) as { requests: { name: string; phase: string; started: boolean }[] };
    expect(first.requests.map((q) => `${q.name}:${q.phase}`).sort()).toEqual([
      'rotate-api:Succeeded',
      'rotate-nothing:Failed',
      'rotate-web:Succeeded',
    ]);
  }, 300_000);

  it('deploy/rbac.yaml lets rekey read RotationRequests and update their status in a bound namespace, and nothing more', async () => {
    // Prepare: the shipped roles, the RoleBindings moved to this test's namespace.
    type Doc = { kind: string; metadata: { name: string; namespace?: string } };
    const docs = loadAll(readFileSync(RBAC_FILE, 'utf8')) as Doc[];
    const outcomes: Record<string, boolean> = {};
    for (const [context, a] of Object.entries(admins)) {
      for (const d of docs) await a.apply((d.kind === 'RoleBinding' ? { ...d, metadata: { ...d.metadata, namespace: ns } } : d) as never);
      const authz = a.kc.makeApiClient(AuthorizationV1Api);
      const may = async (verb: string, subresource = '', namespace = ns) => {
        const review = await authz.createSubjectAccessReview({
          body: {
            spec: {
              user: SERVICE_ACCOUNT_USER,
              groups: ['system:serviceaccounts', 'system:serviceaccounts:rekey-system', 'system:authenticated'],
              resourceAttributes: { group: 'rekey.dev', resource: 'rotationrequests', subresource, verb, namespace },
            },
          },
        });
        return Boolean(review.status?.allowed);
      };
      // Act
      for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']) outcomes[`${context} ${verb}`] = await may(verb);
      for (const verb of ['update', 'patch', 'get']) outcomes[`${context} ${verb} status`] = await may(verb, 'status');
      outcomes[`${context} list elsewhere`] = await may('list', '', 'default');
    }
    // Assess
    for (const c of CONTEXTS) {
      expect([outcomes[`${c} get`], outcomes[`${c} list`], outcomes[`${c} watch`], outcomes[`${c} update status`]]).toEqual([
        true,
        true,
        true,
        true,
      ]);
      expect([
        outcomes[`${c} create`],
        outcomes[`${c} update`],
        outcomes[`${c} patch`],
        outcomes[`${c} delete`],
        outcomes[`${c} patch status`],
        outcomes[`${c} list elsewhere`],
      ]).toEqual([false, false, false, false, false, false]);
    }
  }, 300_000);
});
