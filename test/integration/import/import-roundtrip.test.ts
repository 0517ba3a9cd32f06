// rekey import on dc1 with cert-manager's CRDs (the release's YAML, installed by test/infra): objects of seed 002's
// shape become an inventory; apply after import changes no Secret and restarts nothing; then a rotation works with
// the imported CA key and restarts the consumers import found.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMain } from '../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import {
  apply as kubectlApply,
  createTestNamespace,
  deleteNamespace,
  deploymentManifest,
  kubectl,
  statefulSetManifest,
} from '../../infra/kube-fixtures.js';
import { loadInfraEnv } from '../../infra/env.js';
import { customCertsInternal, type CustomCertsFixture } from './custom-certs-internal.js';

interface Doc {
  metadata: { name: string };
  clusters: { name: string; context: string }[];
  authorities: { name: string; parent?: string; key: string }[];
  certificates: {
    name: string;
    issuer: string;
    usage: string;
    adopt: boolean;
    consumers?: string[];
    dnsNames?: string[];
    secret: { name: string; namespace: string };
  }[];
}

let root: string;
let ns: string;
let fixture: CustomCertsFixture;
let kubeconfig: string;
const state = () => join(root, 'state');
const inventoryFile = () => join(root, 'imported.yaml');

/** resourceVersion of every Secret, and generation + pod template annotations of every workload, in the namespace. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  const list = JSON.parse(kubectl('dc1', ['get', 'secrets,deployments,statefulsets', '-n', ns, '-o', 'json'])) as {
    items: {
      kind: string;
      metadata: { name: string; resourceVersion: string; generation?: number };
      spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
    }[];
  };
  for (const o of list.items) {
    out[`${o.kind}/${o.metadata.name}`] =
      o.kind === 'Secret'
        ? o.metadata.resourceVersion
        : `${o.metadata.generation} ${JSON.stringify(o.spec?.template?.metadata?.annotations ?? {})}`;
  }
  return out;
}

beforeAll(async () => {
  root = await makeTempDir('rekey-import-');
  kubeconfig = loadInfraEnv({ require: ['kube'] }).kube.kubeconfig;
  // cert-manager's CRDs: fetched once from the release module and cached; idempotent.
  execFileSync('bash', [join(REPO_ROOT, 'test/infra/components/cert-manager-crds.sh'), 'up'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 300_000,
  });
  ns = createTestNamespace('dc1', 'import');
  fixture = customCertsInternal(ns, root);
  kubectlApply('dc1', fixture.objects);
  kubectlApply('dc1', [
    deploymentManifest({
      name: 'apim',
      namespace: ns,
      replicas: 1,
      secretVolumes: ['management-server'],
      envFromSecrets: ['management-client'],
    }),
    statefulSetManifest({ name: 'natscluster', namespace: ns, replicas: 1, secretVolumes: ['management-server'] }),
    deploymentManifest({ name: 'portal-www', namespace: ns, replicas: 1, secretVolumes: ['portal-server'] }),
    deploymentManifest({ name: 'postgres-operator', namespace: ns, replicas: 1, envFromSecrets: ['pgo.tls'] }),
  ]);
  kubectl('dc1', ['rollout', 'status', '-n', ns, 'deployment/apim', '--timeout=120s']);
}, 600_000);

afterAll(async () => {
  if (ns) deleteNamespace('dc1', ns);
  await removeTempDir(root);
});

describe('rekey import from cert-manager (seed 002 shape) on dc1', () => {
  let doc: Doc;

  it('writes an inventory: CA issuers become authorities, Certificates and the foreign TLS Secret become adopted certificates with the workloads that mount them', async () => {
    // Act
    const r = await runMain([
      '--state',
      state(),
      'import',
      '--kubeconfig',
      kubeconfig,
      '--context',
      'dc1',
      '--namespace',
      ns,
      '--inventory-name',
      'imp',
      '-o',
      inventoryFile(),
    ]);
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    const text = readFileSync(inventoryFile(), 'utf8');
    expect(text).not.toMatch(/PRIVATE KEY/);
    doc = load(text) as Doc;
    expect(doc.clusters).toEqual([{ name: 'dc1', context: 'dc1' }]);
    expect(doc.authorities.map((a) => [a.name, a.parent ?? null, a.key])).toEqual([
      ['management-ca', null, 'ECDSA-P256'],
      ['portal-ca', null, 'ECDSA-P256'],
      ['pgo.tls-ca', null, 'ECDSA-P256'],
    ]);
    const byName = Object.fromEntries(doc.certificates.map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['management-client', 'management-server', 'pgo.tls', 'portal-client', 'portal-server']);
    expect(byName['management-server']).toMatchObject({
      issuer: 'management-ca',
      usage: 'server',
      adopt: true,
      consumers: ['Deployment/apim', 'StatefulSet/natscluster'],
      dnsNames: ['management-server', `management-server.${ns}.svc`],
      secret: { name: 'management-server', namespace: ns },
    });
    expect(byName['management-client']).toMatchObject({
      issuer: 'management-ca',
      usage: 'client',
      adopt: true,
      consumers: ['Deployment/apim'],
    });
    expect(byName['portal-server']).toMatchObject({ issuer: 'portal-ca', consumers: ['Deployment/portal-www'] });
    expect(byName['pgo.tls']).toMatchObject({ issuer: 'pgo.tls-ca', adopt: true, consumers: ['Deployment/postgres-operator'] });
    expect(r.stderr).toMatch(/not imported: dc1 Certificate .*public-ui: issuer type acme/);
  });

  it('round trip: apply after import writes no Secret and restarts nothing; plan is then empty', async () => {
    // Prepare
    const before = snapshot();
    // Act
    const applied = await runMain(['--state', state(), 'apply', '-f', inventoryFile(), '--kubeconfig', kubeconfig]);
    const plan = await runMain(['--state', state(), '--json', 'plan', '-f', inventoryFile(), '--kubeconfig', kubeconfig]);
    // Assess
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(applied.stdout).toMatch(/0 created, 0 updated, 5 unchanged/);
    expect(snapshot()).toEqual(before);
    expect(plan.code, plan.stderr).toBe(0);
    expect((JSON.parse(plan.stdout) as { actions: unknown[] }).actions).toEqual([]);
  });

  it('then a rotation works: signed with the imported CA key, the Secret taken over, its consumers restarted', async () => {
    // Act
    const r = await runMain(['--state', state(), 'rotate', 'management-server', '-f', inventoryFile(), '--kubeconfig', kubeconfig]);
    // Assess
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const secret = JSON.parse(kubectl('dc1', ['get', 'secret', 'management-server', '-n', ns, '-o', 'json'])) as {
      metadata: { labels?: Record<string, string> };
      data: Record<string, string>;
    };
    expect(secret.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('rekey');
    const leaf = new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64').toString());
    const ca = new X509Certificate(readFileSync(fixture.cas.management.cert));
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.fingerprint256).not.toBe(new X509Certificate(readFileSync(join(root, 'management-server.crt'))).fingerprint256);
    const apim = JSON.parse(kubectl('dc1', ['get', 'deployment', 'apim', '-n', ns, '-o', 'json'])) as {
      spec: { template: { metadata: { annotations?: Record<string, string> } } };
    };
    expect(Object.keys(apim.spec.template.metadata.annotations ?? {})).toContain('rekey/restartedAt');
    const portal = JSON.parse(kubectl('dc1', ['get', 'deployment', 'portal-www', '-n', ns, '-o', 'json'])) as {
      spec: { template: { metadata: { annotations?: Record<string, string> } } };
    };
    expect(Object.keys(portal.spec.template.metadata.annotations ?? {})).not.toContain('rekey/restartedAt');
  });
});
