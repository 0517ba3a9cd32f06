import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileVault } from '../../../shared/adapters/local/file-vault.js';
import { loadVaultKey } from '../../../shared/adapters/local/vault-key.js';
import { decodeMaterial, type PasswordMaterial, type SigningKeyMaterial } from '../../../shared/domain/store/material.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { runMain, type CliResult } from '../../fixtures/cli.js';
import { certCount, dataOf, extractTls, readManifest, serialOf, type SecretManifest } from '../../fixtures/manifests.js';
import { extensionOf, openssl, x509Text } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir, snapshotTree } from '../../fixtures/tmp.js';

/**
 * The "done when" checks, as a new user would try them, against an inventory unlike the examples
 * (test/fixtures/inventories/atlas.yaml). The tests of this file run in order on one state folder.
 */

const INVENTORY = fileURLToPath(new URL('../../fixtures/inventories/atlas.yaml', import.meta.url));
const NO_ENV_KEY = { REKEY_VAULT_KEY: undefined, REKEY_STATE: undefined, KUBECONFIG: undefined };

interface TlsExpectation {
  readonly unit: string;
  readonly path: string;
  readonly clusters: readonly string[];
  readonly usage: 'server' | 'client' | 'clientserver';
  readonly cn: string;
  readonly root: string;
  readonly certs: number;
  readonly san?: readonly string[];
  readonly keyUsage: string;
}
const TLS: TlsExpectation[] = [
  {
    unit: 'gateway',
    path: 'edge/gateway-tls',
    clusters: ['dc1', 'dc2'],
    usage: 'server',
    cn: 'gateway.edge.svc',
    root: 'O = Atlas, CN = Atlas Root CA',
    certs: 2,
    san: ['DNS:gateway', 'DNS:gateway.edge.svc', 'DNS:gateway.example.test', 'IP Address:10.1.2.3', 'IP Address:127.0.0.1'],
    keyUsage: 'Digital Signature, Key Encipherment',
  },
  {
    unit: 'ledger-client',
    path: 'ledger/ledger-client-tls',
    clusters: ['dc1', 'dc2'],
    usage: 'client',
    cn: 'ledger-client',
    root: 'O = Atlas, CN = Atlas Root CA',
    certs: 2,
    keyUsage: 'Digital Signature',
  },
  {
    unit: 'vault-peer',
    path: 'ledger/vault-peer-tls',
    clusters: ['dc1', 'dc2'],
    usage: 'clientserver',
    cn: 'vault-peer',
    root: 'O = Atlas, CN = Atlas Root CA',
    certs: 1,
    san: ['DNS:vault-peer.ledger.svc', 'IP Address:0:0:0:0:0:0:0:1'],
    keyUsage: 'Digital Signature, Key Encipherment',
  },
  {
    unit: 'mesh-sidecar',
    path: 'edge/mesh-sidecar-tls',
    clusters: ['dc1', 'dc2'],
    usage: 'clientserver',
    cn: 'mesh-sidecar',
    root: 'CN = Edge Root',
    certs: 1,
    san: ['DNS:mesh-sidecar.edge.svc'],
    keyUsage: 'Digital Signature',
  },
  {
    unit: 'metrics-scraper',
    path: 'edge/metrics-scraper-tls',
    clusters: ['dc2'],
    usage: 'client',
    cn: 'metrics-scraper',
    root: 'CN = Edge Root',
    certs: 1,
    keyUsage: 'Digital Signature',
  },
  ...[0, 1, 2].map((i) => ({
    unit: `kafka/${i}`,
    path: `data/kafka-tls-${i}`,
    clusters: ['dc1', 'dc2'],
    usage: 'server' as const,
    cn: `kafka-${i}`,
    root: 'O = Atlas, CN = Atlas Root CA',
    certs: 2,
    san: [`DNS:kafka-${i}`, `DNS:kafka-${i}.kafka.data.svc`, 'DNS:kafka-bootstrap.data.svc'],
    keyUsage: 'Digital Signature',
  })),
];
const OPAQUE = ['ledger/ledger-db', 'edge/api-jwt'];
const PURPOSES = {
  server: { right: ['sslserver'], wrong: ['sslclient'] },
  client: { right: ['sslclient'], wrong: ['sslserver'] },
  clientserver: { right: ['sslserver', 'sslclient'], wrong: [] },
};

let root: string;
let out: string;
let state: string;
let work: string;
const outputs: Array<{ command: string; result: CliResult }> = [];

const rekey = async (args: string[]): Promise<CliResult> => {
  const result = await runMain([...args, '--state', state], NO_ENV_KEY);
  outputs.push({ command: args.find((a) => !a.startsWith('-'))!, result });
  return result;
};
const manifestPath = (cluster: string, path: string) => join(out, cluster, `${path}.yaml`);
const vault = async () => new FileVault(join(state, 'vault'), (await loadVaultKey(state, {}, { create: false }))!);

let firstApply: CliResult;

beforeAll(async () => {
  root = await makeTempDir('rekey-cli-');
  out = join(root, 'out');
  state = join(root, 'state');
  work = join(root, 'work');
  mkdirSync(work);
  firstApply = await rekey(['apply', '-f', INVENTORY, '--out', out]);
}, 60_000);
afterAll(() => removeTempDir(root));

describe('rekey CLI acceptance (atlas inventory)', () => {
  it('validate accepts the inventory', async () => {
    const r = await rekey(['validate', '-f', INVENTORY]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /valid inventory atlas: 3 authorities, 6 certificates, 2 credentials \(13 versioned units\), clusters: dc1, dc2/,
    );
  });

  it('apply --out exits 0, issues every unit and writes DIR/<cluster>/<namespace>/<name>.yaml for every target', async () => {
    // Assess
    expect(firstApply.stderr).toBe('');
    expect(firstApply.code).toBe(0);
    expect(firstApply.stdout).toMatch(/inventory atlas: 13 version\(s\) made/);
    expect(firstApply.stdout).toMatch(/secrets -> .*: 19 created, 0 updated, 0 unchanged/);
    const files = (await snapshotTree(out)).map((f) => f.path).sort();
    const expected = [
      ...TLS.flatMap((t) => t.clusters.map((c) => `${c}/${t.path}.yaml`)),
      ...OPAQUE.flatMap((p) => ['dc1', 'dc2'].map((c) => `${c}/${p}.yaml`)),
    ].sort();
    expect(files).toEqual(expected);
    expect(files).not.toContain('dc1/edge/metrics-scraper-tls.yaml');
    for (const f of await snapshotTree(out)) expect(f.mode, f.path).toBe(0o600);
  });

  it.each(TLS)('$unit: a kubernetes.io/tls Secret whose chain, key, SANs and usage pass openssl', (t) => {
    // Prepare
    const m: SecretManifest = readManifest(manifestPath(t.clusters[0]!, t.path));
    const files = extractTls(m, work, t.unit.replace('/', '-'));
    const d = dataOf(m);
    // Act
    const verify = (purpose: string) => openssl(['verify', '-purpose', purpose, '-CAfile', files.ca, '-untrusted', files.crt, files.crt]);
    const text = x509Text(files.crt);
    const caText = x509Text(files.ca);
    const fromKey = openssl(['pkey', '-in', files.key, '-pubout']).stdout;
    const fromCert = openssl(['x509', '-in', files.crt, '-noout', '-pubkey']).stdout;
    // Assess: the shape of the Secret
    expect(m).toMatchObject({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: t.path.split('/')[1], namespace: t.path.split('/')[0] },
    });
    expect(m.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'rekey' });
    expect(Object.keys(m.metadata.annotations!).sort()).toEqual([
      'rekey/content-hash',
      'rekey/fingerprint',
      'rekey/inventory',
      'rekey/item',
      'rekey/not-after',
      'rekey/version',
    ]);
    expect(m.metadata.annotations).toMatchObject({ 'rekey/inventory': 'atlas', 'rekey/item': t.unit });
    expect(Object.keys(d).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(d['tls.key']).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
    expect(certCount(d['tls.crt']!)).toBe(t.certs);
    expect(certCount(d['ca.crt']!)).toBe(1);
    expect(caText).toMatch(new RegExp(`Subject: ${t.root}\\n`));
    expect(m.metadata.annotations!['rekey/fingerprint']).toBe(
      new X509Certificate(d['tls.crt']!).fingerprint256.replace(/:/g, '').toLowerCase(),
    );
    // chain and purpose
    for (const p of PURPOSES[t.usage].right) expect(verify(p).stdout.trim(), p).toBe(`${files.crt}: OK`);
    for (const p of PURPOSES[t.usage].wrong) expect(verify(p).status, p).not.toBe(0);
    // names, usages, key
    expect(text).toMatch(new RegExp(`Subject: CN = ${t.cn}\\n`));
    expect(extensionOf(text, 'X509v3 Subject Alternative Name')?.value.split(', ')).toEqual(t.san);
    expect(extensionOf(text, 'X509v3 Key Usage')!.value).toBe(t.keyUsage);
    expect(fromKey).toBe(fromCert);
    // the same Secret in every cluster it goes to
    for (const c of t.clusters.slice(1)) expect(readManifest(manifestPath(c, t.path)).data).toEqual(m.data);
  });

  it('credentials become Opaque Secrets with the managed-by label', () => {
    for (const p of OPAQUE) {
      const m = readManifest(manifestPath('dc1', p));
      expect(m.type).toBe('Opaque');
      expect(m.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'rekey' });
    }
    expect(Object.keys(dataOf(readManifest(manifestPath('dc2', 'ledger/ledger-db'))))).toEqual(['password']);
    expect(dataOf(readManifest(manifestPath('dc2', 'ledger/ledger-db'))).password).toHaveLength(40);
  });

  it('apply again writes nothing: same files, same mtimes, "0 created, 0 updated"; the vault is untouched', async () => {
    // Prepare
    const outBefore = await snapshotTree(out);
    const vaultBefore = await snapshotTree(join(state, 'vault'));
    // Act
    const r = await rekey(['apply', '-f', INVENTORY, '--out', out]);
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/inventory atlas: 0 version\(s\) made/);
    expect(r.stdout).toMatch(/secrets -> .*: 0 created, 0 updated, 19 unchanged/);
    expect(await snapshotTree(out)).toEqual(outBefore);
    expect(await snapshotTree(join(state, 'vault'))).toEqual(vaultBefore);
  });

  it('plan --json --out prints {"actions": []} after apply', async () => {
    // Act
    const r = await rekey(['--json', 'plan', '-f', INVENTORY, '--out', out]);
    // Assess
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ actions: [], warnings: [] });
  });

  it('plan --json on a fresh state lists every issue and write, and changes nothing', async () => {
    // Prepare
    const fresh = join(root, 'fresh-state');
    // Act
    const r = await runMain(['--json', 'plan', '-f', INVENTORY, '--out', join(root, 'fresh-out'), '--state', fresh], NO_ENV_KEY);
    // Assess
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as { actions: Array<{ action: string; kind: string; name: string; reason: string }> };
    expect(
      plan.actions
        .filter((a) => a.action === 'issue')
        .map((a) => a.name)
        .sort(),
    ).toEqual(
      [
        'atlas-root',
        'atlas-issuing',
        'edge-root',
        'gateway',
        'ledger-client',
        'vault-peer',
        'mesh-sidecar',
        'metrics-scraper',
        'kafka/0',
        'kafka/1',
        'kafka/2',
        'ledger-db-password',
        'api-signing-key',
      ].sort(),
    );
    expect(plan.actions.filter((a) => a.kind === 'secret')).toHaveLength(19);
    for (const a of plan.actions) expect(Object.keys(a)).toEqual(expect.arrayContaining(['action', 'kind', 'name', 'reason']));
    expect(await snapshotTree(fresh)).toEqual([]);
    expect(await snapshotTree(join(root, 'fresh-out'))).toEqual([]);
  });

  it('status lists every unit with its version and expiry', async () => {
    // Act
    const text = await rekey(['status', '-f', INVENTORY]);
    const json = await rekey(['--json', 'status', '-f', INVENTORY]);
    // Assess
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^NAME\s+KIND\s+VERSION\s+NOT AFTER\s+SERIAL\s+ROTATION/);
    const items = (JSON.parse(json.stdout) as { items: Array<{ name: string; version?: string; notAfter?: string }> }).items;
    expect(items).toHaveLength(13);
    for (const i of items) expect(i.version, i.name).toBeTruthy();
    expect(items.find((i) => i.name === 'gateway')!.notAfter).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('rotate NAME --out gives a new serial in every cluster; the previous version stays retrievable from the store and the CLI', async () => {
    // Prepare
    const unit = 'rekey/atlas/mesh-sidecar';
    const oldSerial = serialOf(dataOf(readManifest(manifestPath('dc1', 'edge/mesh-sidecar-tls')))['tls.crt']!);
    const oldVersion = (await (await vault()).getVersion(unit))!.versionId;
    // Act
    const r = await rekey(['rotate', 'mesh-sidecar', '-f', INVENTORY, '--out', out]);
    // Assess: the CLI
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rotation [0-9a-f-]{36} completed/);
    expect(r.stdout).toContain(`serial ${oldSerial.slice(0, 16)} -> `);
    // the Secrets
    const newSerials = ['dc1', 'dc2'].map((c) => serialOf(dataOf(readManifest(manifestPath(c, 'edge/mesh-sidecar-tls')))['tls.crt']!));
    expect(newSerials[0]).toBe(newSerials[1]);
    expect(newSerials[0]).not.toBe(oldSerial);
    // the store: AWSPREVIOUS is the old version
    const v = await vault();
    const previous = (await v.getVersion(unit, { stage: Stage.Previous }))!;
    expect(previous.versionId).toBe(oldVersion);
    expect(decodeMaterial(previous.value, unit)).toMatchObject({ type: 'certificate', serial: oldSerial });
    // the CLI: export --version-stage previous
    const exported = await rekey(['export', 'mesh-sidecar', '-f', INVENTORY, '--format', 'pem', '--version-stage', 'previous']);
    expect(exported.code).toBe(0);
    expect(serialOf(exported.stdout)).toBe(oldSerial);
    const currentExport = await rekey(['export', 'mesh-sidecar', '-f', INVENTORY, '--format', 'pem']);
    expect(serialOf(currentExport.stdout)).toBe(newSerials[0]);
    // and apply afterwards has nothing to do
    const again = await rekey(['apply', '-f', INVENTORY, '--out', out]);
    expect(again.stdout).toMatch(/0 created, 0 updated, 19 unchanged/);
  });

  it('rotate a per-replica certificate renews every replica', async () => {
    // Prepare
    const before = [0, 1, 2].map((i) => serialOf(dataOf(readManifest(manifestPath('dc2', `data/kafka-tls-${i}`)))['tls.crt']!));
    // Act
    const r = await rekey(['rotate', 'kafka', '-f', INVENTORY, '--out', out]);
    // Assess
    expect(r.code).toBe(0);
    const after = [0, 1, 2].map((i) => serialOf(dataOf(readManifest(manifestPath('dc2', `data/kafka-tls-${i}`)))['tls.crt']!));
    for (const i of [0, 1, 2]) expect(after[i]).not.toBe(before[i]);
  });

  it('no private key, password or signing key appears in the output of validate, plan, apply, status, rotate, nor in events.jsonl; export does print keys', async () => {
    // Prepare: the secrets that exist in this state
    const v = await vault();
    const password = (decodeMaterial((await v.getVersion('rekey/atlas/ledger-db-password'))!.value, 'pw') as PasswordMaterial).password;
    const jwk = (decodeMaterial((await v.getVersion('rekey/atlas/api-signing-key'))!.value, 'jwk') as SigningKeyMaterial).jwk;
    const keys = TLS.map((t) => dataOf(readManifest(manifestPath(t.clusters[0]!, t.path)))['tls.key']!.split('\n')[1]!);
    const events = readFileSync(join(state, 'events.jsonl'), 'utf8');
    // Act
    const printed = outputs.filter((o) => o.command !== 'export');
    const exports = outputs.filter((o) => o.command === 'export');
    // Assess
    expect(new Set(printed.map((o) => o.command))).toEqual(new Set(['apply', 'validate', 'plan', 'status', 'rotate']));
    expect(events.length).toBeGreaterThan(1000);
    for (const text of [...printed.flatMap((o) => [o.result.stdout, o.result.stderr]), events]) {
      expect(text).not.toMatch(/PRIVATE KEY/);
      expect(text).not.toContain(password);
      expect(text).not.toContain(String(jwk.d));
      for (const k of keys) expect(text).not.toContain(k);
      expect(text).not.toMatch(/"(password|token|privateKey|tls\.key)"\s*:/);
    }
    expect(exports.some((o) => o.result.stdout.includes('-----BEGIN PRIVATE KEY-----'))).toBe(true);
  });
});
