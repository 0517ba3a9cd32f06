// Seed 000 live on dc1 (examples/pgo.yaml, its namespace made unique): an existing valid `pgo.tls` is adopted and
// left byte for byte as it is (same resourceVersion, no restart); a missing one is generated; the installer's own
// files (server.crt/server.key) can be imported as the first version; export gives a client what it needs; the
// first rotation takes the Secret over and restarts the operator.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMain } from '../fixtures/cli.js';
import { openssl } from '../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { loadInfraEnv } from '../infra/env.js';
import { apply, createTestNamespace, deleteNamespace, deploymentManifest, kubectl } from '../infra/kube-fixtures.js';

const EXAMPLE = readFileSync(join(REPO_ROOT, 'examples', 'pgo.yaml'), 'utf8');
const SAN = 'subjectAltName=DNS:postgres-operator,DNS:postgres-operator.pgo.svc,DNS:localhost,IP:127.0.0.1';

let root: string;
let kubeconfig: string;
const namespaces: string[] = [];

/** examples/pgo.yaml with its namespace replaced (the clusters are shared); the SANs stay the example's. */
function inventoryIn(ns: string): string {
  const file = join(root, `pgo-${ns}.yaml`);
  writeFileSync(file, EXAMPLE.replace('namespace: pgo}', `namespace: ${ns}}`));
  return file;
}

/** What the operator's installer (gen-api-keys.sh) leaves: a self-signed server.crt and server.key, no EKU. */
function installerFiles(dir: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  const made = openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    '/CN=postgres-operator',
    '-days',
    '365',
    '-addext',
    SAN,
  ]);
  expect(made.status, made.stderr).toBe(0);
  return { cert, key };
}

function namespace(): string {
  const ns = createTestNamespace('dc1', 'seed000');
  namespaces.push(ns);
  apply('dc1', [deploymentManifest({ name: 'postgres-operator', namespace: ns, replicas: 1, envFromSecrets: ['pgo.tls'] })]);
  return ns;
}

const secretOf = (ns: string) =>
  JSON.parse(kubectl('dc1', ['get', 'secret', 'pgo.tls', '-n', ns, '-o', 'json'])) as {
    metadata: { resourceVersion: string; labels?: Record<string, string> };
    data: Record<string, string>;
  };
const templateOf = (ns: string) =>
  (
    JSON.parse(kubectl('dc1', ['get', 'deployment', 'postgres-operator', '-n', ns, '-o', 'json'])) as {
      spec: { template: { metadata: { annotations?: Record<string, string> } } };
    }
  ).spec.template.metadata.annotations ?? {};
const leafOf = (s: { data: Record<string, string> }) => new X509Certificate(Buffer.from(s.data['tls.crt']!, 'base64').toString());

beforeAll(async () => {
  root = await makeTempDir('rekey-seed000-e2e-');
  kubeconfig = loadInfraEnv({ require: ['kube'] }).kube.kubeconfig;
});
afterAll(async () => {
  for (const ns of namespaces) deleteNamespace('dc1', ns);
  await removeTempDir(root);
});

describe('seed 000 on dc1: pgo.tls kept if present, generated if missing', () => {
  it('adopts an existing valid pgo.tls without touching it, exports what a client needs, and the first rotation takes it over', async () => {
    // Prepare
    const ns = namespace();
    const files = installerFiles(join(root, 'existing'));
    kubectl('dc1', ['create', 'secret', 'tls', 'pgo.tls', '-n', ns, '--cert', files.cert, '--key', files.key]);
    const before = secretOf(ns);
    const inv = inventoryIn(ns);
    const state = join(root, 'state-existing');
    // Act
    const applied = await runMain(['--state', state, 'apply', '-f', inv, '--kubeconfig', kubeconfig]);
    const after = secretOf(ns);
    const templateAfterApply = templateOf(ns);
    const exported = await runMain([
      '--state',
      state,
      'export',
      'postgres-operator',
      '-f',
      inv,
      '--format',
      'env',
      '--prefix',
      'PGO',
      '--dir',
      join(root, 'export'),
    ]);
    const rotated = await runMain(['--state', state, 'rotate', 'postgres-operator', '-f', inv, '--kubeconfig', kubeconfig]);
    const taken = secretOf(ns);
    // Assess
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(applied.stdout).toMatch(/adopt\s+certificate\s+postgres-operator\s+SecretAdopted/);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion); // not even metadata written
    expect(templateAfterApply['rekey/restartedAt']).toBeUndefined();
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/PGO_CA_CERT=.*\nexport PGO_CLIENT_CERT=.*\nexport PGO_CLIENT_KEY=/);
    expect(new X509Certificate(readFileSync(join(root, 'export', 'tls.crt'))).fingerprint256).toBe(
      new X509Certificate(readFileSync(files.cert)).fingerprint256,
    );
    expect(rotated.code, rotated.stderr + rotated.stdout).toBe(0);
    expect(taken.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('rekey');
    expect(leafOf(taken).issuer).toBe('CN=pgo-ca');
    expect(templateOf(ns)['rekey/restartedAt']).toBeDefined();
  });

  it('generates pgo.tls when it is missing', async () => {
    // Prepare
    const ns = namespace();
    const inv = inventoryIn(ns);
    // Act
    const applied = await runMain(['--state', join(root, 'state-missing'), 'apply', '-f', inv, '--kubeconfig', kubeconfig]);
    // Assess
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const s = secretOf(ns);
    expect(s.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('rekey');
    const leaf = leafOf(s);
    expect(leaf.issuer).toBe('CN=pgo-ca');
    expect(leaf.checkIssued(new X509Certificate(Buffer.from(s.data['ca.crt']!, 'base64').toString()))).toBe(true);
  });

  it("imports the installer's server.crt/server.key as the first version: apply writes exactly them into the cluster", async () => {
    // Prepare
    const ns = namespace();
    const dir = join(root, 'pgoroot', 'conf', 'postgres-operator');
    const files = installerFiles(dir);
    const inv = inventoryIn(ns);
    const state = join(root, 'state-files');
    // Act
    const imported = await runMain(['--state', state, 'import', '--files', dir, '--name', 'postgres-operator', '-f', inv]);
    const applied = await runMain(['--state', state, 'apply', '-f', inv, '--kubeconfig', kubeconfig]);
    // Assess
    expect(imported.code, imported.stderr).toBe(0);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(leafOf(secretOf(ns)).fingerprint256).toBe(new X509Certificate(readFileSync(files.cert)).fingerprint256);
  });
});
