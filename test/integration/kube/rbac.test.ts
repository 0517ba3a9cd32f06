import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { connectClusters, ForbiddenError } from '../../../shared/adapters/kube/index.js';
import { apply } from '../../../shared/app/apply.js';
import type { Deps } from '../../../shared/app/deps.js';
import { pauseOwner } from '../../../shared/app/pause/index.js';
import { findUnlistedConsumers } from '../../../shared/app/restart/index.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Credential } from '../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { openssl } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { createPostgres, installPostgresCrd } from './crd.js';
import {
  Admin,
  CONTEXTS,
  deploymentObject,
  kubeconfigForUser,
  kubeconfigPath,
  podSpec,
  recordingLogger,
  rolledOut,
  uniqueName,
} from './support.js';

const RBAC_FILE = new URL('../../../deploy/rbac.yaml', import.meta.url);
const SERVICE_ACCOUNT_USER = 'system:serviceaccount:rekey-system:rekey';

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

/** PEM from an env var holding either the PEM itself or a path to it. */
function pemFromEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set by the test infrastructure (loadInfraEnv)`);
  return v.includes('-----BEGIN') ? v : readFileSync(v, 'utf8');
}

/** A client certificate for `user`, signed by the cluster's client CA (the API server trusts it for authentication). */
async function mintClientCert(dir: string, cluster: string, user: string): Promise<{ certPem: string; keyPem: string }> {
  const ca = join(dir, `${cluster}-ca.crt`);
  const caKey = join(dir, `${cluster}-ca.key`);
  await writeFile(ca, pemFromEnv(`KUBE_${cluster.toUpperCase()}_CLIENT_CA_CERT`));
  await writeFile(caKey, pemFromEnv(`KUBE_${cluster.toUpperCase()}_CLIENT_CA_KEY`), { mode: 0o600 });
  const key = join(dir, `${cluster}-user.key`);
  const csr = join(dir, `${cluster}-user.csr`);
  const crt = join(dir, `${cluster}-user.crt`);
  const ok = (r: { status: number | null; stderr: string }) => {
    if (r.status !== 0) throw new Error(r.stderr);
  };
  ok(
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      `/CN=${user}`,
      '-out',
      csr,
    ]),
  );
  ok(openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-out', crt]));
  return { certPem: readFileSync(crt, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

/**
 * deploy/rbac.yaml, applied as shipped (ClusterRoles, ServiceAccount) with its RoleBindings moved to the test's
 * namespace: rekey, authenticated as the ServiceAccount's user, works there and is refused elsewhere, clearly.
 */
describe('least privilege: rekey under deploy/rbac.yaml', () => {
  const managed = uniqueName('rekey-rbac');
  const outside = uniqueName('rekey-outside');
  let admins: Record<(typeof CONTEXTS)[number], Admin>;
  let dir: string;
  let restricted: string;
  const docs = loadAll(readFileSync(RBAC_FILE, 'utf8')) as Doc[];

  const inventory = (namespace: string) =>
    loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: rbac-it}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities: [{name: root, commonName: rbac-it root, key: ECDSA-P256}]
certificates:
  - {name: web, issuer: root, usage: server, commonName: web, secret: {name: web-tls, namespace: ${namespace}}, consumers: [Deployment/web], restart: {policy: together, within: 2m}}
credentials:
  - name: pw
    type: password
    secret: {name: pw, namespace: ${namespace}}
    pause: {object: {apiVersion: kubedb.com/v1, kind: Postgres, name: pg}, patch: {metadata: {annotations: {rekey/paused: "true"}}}, resume: {metadata: {annotations: {rekey/paused: null}}}}
`);

  beforeAll(async () => {
    const adminConfig = await kubeconfigPath();
    dir = await makeTempDir();
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    for (const a of Object.values(admins)) {
      await installPostgresCrd(a);
      for (const ns of [managed, outside]) await a.createNamespace(ns);
      for (const d of docs) {
        if (d.kind === 'RoleBinding') await a.apply({ ...d, metadata: { ...d.metadata, namespace: managed } } as never);
        else await a.apply(d as never);
      }
      await createPostgres(a, managed, 'pg');
      await a.apply(deploymentObject(managed, 'web', {}, podSpec({ volume: 'web-tls' })));
      await rolledOut(a, managed, 'web');
    }
    const adminKc = new KubeConfig();
    adminKc.loadFromFile(adminConfig);
    // One client certificate per cluster CA; a kubeconfig whose user differs per context.
    const certs = {
      dc1: await mintClientCert(dir, 'dc1', SERVICE_ACCOUNT_USER),
      dc2: await mintClientCert(dir, 'dc2', SERVICE_ACCOUNT_USER),
    };
    const one = await kubeconfigForUser(dir, adminKc, { name: 'rekey', ...certs.dc1 });
    const doc = JSON.parse(readFileSync(one, 'utf8'));
    doc.users = CONTEXTS.map((c) => ({
      name: `rekey-${c}`,
      user: {
        'client-certificate-data': Buffer.from(certs[c].certPem).toString('base64'),
        'client-key-data': Buffer.from(certs[c].keyPem).toString('base64'),
      },
    }));
    doc.contexts = doc.contexts.map((x: { name: string; context: { cluster: string } }) => ({
      name: x.name,
      context: { cluster: x.context.cluster, user: `rekey-${x.name}` },
    }));
    restricted = join(dir, 'rekey-sa.kubeconfig.json');
    await writeFile(restricted, JSON.stringify(doc), { mode: 0o600 });
  });
  afterAll(async () => {
    for (const a of Object.values(admins ?? {})) for (const ns of [managed, outside]) await a.deleteNamespace(ns);
    if (dir && existsSync(dir)) await removeTempDir(dir);
  });

  it('syncs, rotates with restarts, scans and pauses in its namespace', async () => {
    // Prepare
    const inv = inventory(managed);
    const rt = await composeLocal(inv, {
      stateDir: join(dir, 'state'),
      target: { kind: 'kube', kubeconfig: restricted },
      log: recordingLogger(),
    });
    try {
      // Act
      const applied = await apply(rt.deps, inv);
      const record = await startRotation(rt.deps, inv, 'web', { trigger: Trigger.Manual, reason: 'rbac' });
      await driveRotations(rt.deps, inv, rt.queue);
      const unlisted = await findUnlistedConsumers(rt.deps, inv);
      const paused = await pauseOwner(rt.deps, inv, inv.items.get('pw') as Credential);
      // Assess
      expect(applied.problems).toEqual([]);
      // web-tls by apply's sync in both clusters; pw (a credential with an owner to pause) is issued through its
      // password rotation, whose sync step writes it: the journal shows that rotation completed, the clusters hold it.
      expect(
        applied.sync.secrets
          .filter((s) => s.change === 'created')
          .map((s) => `${s.cluster}/${s.secret}`)
          .sort(),
      ).toEqual(['dc1/web-tls', 'dc2/web-tls']);
      for (const c of ['dc1', 'dc2'] as const)
        expect((await rt.deps.clusters.get(c)!.secrets.getSecret(managed, 'pw'))?.data.password).toBeTruthy();
      const final = (await rt.deps.journal.get(record.id))!;
      expect(final.status, final.error).toBe(RotationStatus.Completed);
      expect([final.restarts.dc1?.state, final.restarts.dc2?.state]).toEqual(['completed', 'completed']);
      expect(unlisted).toEqual([]);
      expect(paused.patched).toEqual(['dc1', 'dc2']);
    } finally {
      await rt.close();
    }
  });

  it('is refused for Secrets outside its scope, with a clear error', async () => {
    // Prepare
    const clusters = await connectClusters(
      [
        { name: 'dc1', context: 'dc1' },
        { name: 'dc2', context: 'dc2' },
      ],
      { kubeconfig: restricted, log: recordingLogger() },
    );
    const deps = { clusters } as unknown as Deps;
    const inv = inventory(outside);
    const rt = await composeLocal(inv, {
      stateDir: join(dir, 'state-outside'),
      target: { kind: 'kube', kubeconfig: restricted },
      log: recordingLogger(),
    });
    try {
      // Act + Assess (each refusal awaited where it is made)
      await expect(apply(rt.deps, inv)).rejects.toThrow(
        new RegExp(`rekey's service account may not list secrets in ${outside} on cluster dc[12]`),
      );
      const listing = clusters.get('dc2')!.secrets.listSecrets('kube-system');
      await expect(listing).rejects.toThrow(ForbiddenError);
      await expect(listing).rejects.toThrow(/^rekey's service account may not list secrets in kube-system on cluster dc2/);
      const sneaky = {
        name: 'sneaky',
        namespace: outside,
        type: 'Opaque' as const,
        data: { a: 'b' },
        labels: { 'app.kubernetes.io/managed-by': 'rekey' },
        annotations: {},
      };
      await expect(clusters.get('dc1')!.secrets.writeSecret(sneaky, { adopt: false })).rejects.toThrow(
        new RegExp(`^rekey's service account may not create secrets in ${outside} on cluster dc1`),
      );
      await expect(findUnlistedConsumers(deps, inv)).rejects.toThrow(ForbiddenError);
    } finally {
      await rt.close();
    }
    // and nothing was written there
    expect(
      (await admins.dc1.core.listNamespacedSecret({ namespace: outside })).items.filter(
        (s) => s.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'rekey',
      ),
    ).toEqual([]);
  });

  it('has no rights it does not need (no delete, nothing cluster-wide)', async () => {
    // Prepare
    const kc = new KubeConfig();
    kc.loadFromFile(restricted);
    kc.setCurrentContext('dc1');
    const core = kc.makeApiClient(CoreV1Api);
    // Act + Assess
    await expect(core.deleteNamespacedSecret({ name: 'web-tls', namespace: managed })).rejects.toMatchObject({ code: 403 });
    await expect(core.listSecretForAllNamespaces()).rejects.toMatchObject({ code: 403 });
    await expect(core.deleteNamespacedPod({ name: 'x', namespace: managed })).rejects.toMatchObject({ code: 403 });
    await expect(core.listNamespace()).rejects.toMatchObject({ code: 403 });
  });
});
