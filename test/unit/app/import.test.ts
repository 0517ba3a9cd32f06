import { readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImport, type ClusterSnapshot } from '../../../shared/app/import/index.js';
import type { CmCertificate, CmIssuer } from '../../../shared/app/import/source.js';
import { validateInventory } from '../../../shared/domain/inventory/load.js';
import type { ObservedSecret, SecretUse } from '../../../shared/ports/cluster.js';
import { REPO_ROOT, runMain } from '../../fixtures/cli.js';
import { openssl } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { makeCa, makeCert, type CertFiles } from '../../infra/pki.js';

let root: string;
let ca: CertFiles;
let other: CertFiles;
let server: CertFiles;
let client: CertFiles;
let foreign: CertFiles;

beforeAll(async () => {
  root = await makeTempDir('rekey-import-unit-');
  ca = makeCa(root, 'ca', 'management-ca');
  other = makeCa(root, 'other', 'installer root');
  server = makeCert(root, 'server', ca, {
    cn: 'management-server',
    kind: 'server',
    sans: ['DNS:management-server', 'DNS:management-server.apic.svc'],
    days: 90,
  });
  client = makeCert(root, 'client', ca, { cn: 'apicuser', kind: 'client', days: 90 });
  foreign = makeCert(root, 'foreign', other, { cn: 'postgres-operator', kind: 'server', sans: ['DNS:postgres-operator'], days: 90 });
});
afterAll(() => removeTempDir(root));

const read = (p: string) => readFileSync(p, 'utf8');
const tls = (
  namespace: string,
  name: string,
  files: CertFiles,
  caFiles: CertFiles,
  annotations: Record<string, string> = {},
): ObservedSecret => ({
  name,
  namespace,
  type: 'kubernetes.io/tls',
  labels: {},
  annotations,
  data: { 'tls.crt': read(files.cert), 'tls.key': read(files.key), 'ca.crt': read(caFiles.cert) },
});
const cert = (name: string, issuer: string, extra: Partial<CmCertificate> = {}): CmCertificate => ({
  namespace: 'apic',
  name,
  secretName: name,
  issuerRef: { name: issuer, kind: 'Issuer' },
  isCA: false,
  dnsNames: [],
  ipAddresses: [],
  uris: [],
  usages: [],
  organizations: [],
  ...extra,
});
const use = (secret: string, kind: SecretUse['workload']['kind'], name: string): SecretUse => ({
  secret,
  namespace: 'apic',
  via: 'volume',
  workload: { kind, namespace: 'apic', name },
});

function snapshot(cluster: string, overrides: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  const issuers: CmIssuer[] = [
    { kind: 'Issuer', namespace: 'apic', name: 'selfsigning-issuer', type: 'selfSigned' },
    { kind: 'Issuer', namespace: 'apic', name: 'management-ca', type: 'ca', caSecretName: 'management-ca' },
    { kind: 'ClusterIssuer', name: 'vault-issuer', type: 'vault' },
  ];
  const certificates = [
    cert('management-ca', 'selfsigning-issuer', { isCA: true }),
    cert('management-server', 'management-ca', { usages: ['digital signature', 'server auth'], duration: '2160h', renewBefore: '240h' }),
    cert('apicuser', 'management-ca', { secretName: 'management-db-client-apicuser', usages: ['client auth'] }),
    cert('vaulted', 'vault-issuer', { issuerRef: { name: 'vault-issuer', kind: 'ClusterIssuer' } }),
    cert('self-leaf', 'selfsigning-issuer'),
  ];
  const secrets = new Map<string, ObservedSecret>(
    [
      tls('apic', 'management-ca', ca, ca, { 'cert-manager.io/certificate-name': 'management-ca' }),
      tls('apic', 'management-server', server, ca, { 'cert-manager.io/certificate-name': 'management-server' }),
      tls('apic', 'management-db-client-apicuser', client, ca, { 'cert-manager.io/certificate-name': 'apicuser' }),
      tls('apic', 'pgo.tls', foreign, other),
    ].map((s) => [`${s.namespace}/${s.name}`, s]),
  );
  const uses = [
    use('management-server', 'Deployment', 'apim'),
    use('management-server', 'StatefulSet', 'natscluster'),
    use('management-db-client-apicuser', 'Deployment', 'apim'),
    use('pgo.tls', 'Deployment', 'postgres-operator'),
  ];
  return { cluster, certManagerInstalled: true, certificates, issuers, secrets, uses, ...overrides };
}

type Doc = {
  authorities: { name: string }[];
  certificates: {
    name: string;
    issuer: string;
    usage: string;
    adopt: boolean;
    consumers?: string[];
    secret: { clusters?: string[] };
    renewBefore?: string;
  }[];
  clusters: unknown[];
};

describe('buildImport (pure)', () => {
  it('maps cert-manager objects and a foreign TLS Secret to a valid inventory, listing what it cannot import', () => {
    // Act
    const plan = buildImport([snapshot('dc1')], { name: 'apic', now: new Date() });
    // Assess
    const inv = validateInventory(plan.document, 'test');
    const doc = plan.document as unknown as Doc;
    expect(inv.authorities.map((a) => a.name)).toEqual(['management-ca', 'pgo.tls-ca']);
    expect(doc.certificates.map((c) => [c.name, c.issuer, c.usage, c.adopt, c.consumers])).toEqual([
      ['apicuser', 'management-ca', 'client', true, ['Deployment/apim']],
      ['management-server', 'management-ca', 'server', true, ['Deployment/apim', 'StatefulSet/natscluster']],
      ['pgo.tls', 'pgo.tls-ca', 'server', true, ['Deployment/postgres-operator']],
    ]);
    expect(doc.certificates.find((c) => c.name === 'management-server')!.renewBefore).toBe('240h');
    expect(plan.authorities.map((a) => a.name)).toEqual(['management-ca']); // key material only for CAs found
    expect(JSON.stringify(plan.document)).not.toMatch(/PRIVATE KEY/);
    expect(plan.notImportable.map((n) => [n.name, n.reason.split(':')[0]])).toEqual([
      ['vaulted', 'issuer type vault'],
      ['self-leaf', 'a self-signed leaf certificate'],
    ]);
    expect(plan.notes.join('\n')).toMatch(/pgo.tls: signed by "CN=installer root", which rekey does not hold/);
  });

  it('two clusters holding the same material: one item for both; other material in one of them is said', () => {
    // Act
    const same = buildImport([snapshot('dc1'), snapshot('dc2')], { name: 'apic', now: new Date() });
    const changed = snapshot('dc2');
    const secrets = new Map(changed.secrets);
    secrets.set(
      'apic/management-server',
      tls('apic', 'management-server', client, ca, { 'cert-manager.io/certificate-name': 'management-server' }),
    );
    const differing = buildImport([snapshot('dc1'), { ...changed, secrets }], { name: 'apic', now: new Date() });
    // Assess
    const doc = same.document as unknown as Doc;
    expect(doc.clusters).toEqual([
      { name: 'dc1', context: 'dc1' },
      { name: 'dc2', context: 'dc2' },
    ]);
    expect(doc.certificates.map((c) => c.name)).toEqual(['apicuser', 'management-server', 'pgo.tls']);
    expect(doc.certificates.every((c) => c.secret.clusters === undefined)).toBe(true); // all clusters
    expect(same.notes.filter((n) => n.includes('other material'))).toEqual([]);
    expect(differing.notes.join('\n')).toMatch(/apic\/management-server: dc2 holds other material than dc1/);
  });

  it('a Secret whose key does not match its certificate is not imported, with the reason', () => {
    // Prepare
    const s = snapshot('dc1');
    const secrets = new Map(s.secrets);
    secrets.set('apic/pgo.tls', {
      ...tls('apic', 'pgo.tls', foreign, other),
      data: { 'tls.crt': read(foreign.cert), 'tls.key': read(server.key) },
    });
    // Act
    const plan = buildImport([{ ...s, secrets }], { name: 'apic', now: new Date() });
    // Assess
    expect(plan.notImportable).toContainEqual({
      cluster: 'dc1',
      kind: 'Secret',
      namespace: 'apic',
      name: 'pgo.tls',
      reason: 'tls.key does not match tls.crt',
    });
  });
});

describe('rekey import --files (seed 000: the installer left server.crt and server.key)', () => {
  it('stores them as the first version of the item; inspect shows them adopted; a second import keeps it; a bad key exits 2', async () => {
    // Prepare
    const installer = join(root, 'pgo-conf');
    mkdirSync(installer, { recursive: true });
    // As the installer's gen-api-keys.sh makes it: openssl req -x509, no EKU.
    const own = { cert: join(root, 'pgo.crt'), key: join(root, 'pgo.key') };
    const made = openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      own.key,
      '-out',
      own.cert,
      '-subj',
      '/CN=postgres-operator',
      '-days',
      '365',
      '-addext',
      'subjectAltName=DNS:postgres-operator,DNS:postgres-operator.pgo.svc,DNS:localhost,IP:127.0.0.1',
    ]);
    expect(made.status, made.stderr).toBe(0);
    copyFileSync(own.cert, join(installer, 'server.crt'));
    copyFileSync(own.key, join(installer, 'server.key'));
    const bad = join(root, 'bad-conf');
    mkdirSync(bad, { recursive: true });
    copyFileSync(own.cert, join(bad, 'server.crt'));
    writeFileSync(join(bad, 'server.key'), read(server.key));
    const state = join(root, 'files-state');
    const pgo = join(REPO_ROOT, 'examples', 'pgo.yaml');
    // Act
    const first = await runMain(['--state', state, 'import', '--files', installer, '--name', 'postgres-operator', '-f', pgo]);
    const again = await runMain(['--state', state, 'import', '--files', installer, '--name', 'postgres-operator', '-f', pgo]);
    const inspect = await runMain(['--state', state, '--json', 'inspect', 'postgres-operator', '-f', pgo]);
    const refused = await runMain(['--state', join(root, 'bad-state'), 'import', '--files', bad, '--name', 'postgres-operator', '-f', pgo]);
    // Assess
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/stored as the first version/);
    expect(again.stdout).toMatch(/already has a version/);
    const i = JSON.parse(inspect.stdout) as { units: { adopted?: boolean; certificate: { fingerprint: string }; versions: unknown[] }[] };
    expect(i.units[0]).toMatchObject({ adopted: true, versions: [expect.anything()] });
    expect(i.units[0]!.certificate.fingerprint).toBe(
      new (await import('node:crypto')).X509Certificate(read(own.cert)).fingerprint256.replace(/:/g, '').toLowerCase(),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/tls.key does not match tls.crt/);
  });
});
