import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../../../shared/domain/errors.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Certificate } from '../../../../shared/domain/inventory/model.js';
import { KEY_TYPES, USAGES } from '../../../../shared/domain/inventory/schema.js';
import { unitsOf } from '../../../../shared/domain/units.js';

type Doc = Record<string, any>;

const HOUR = 3_600_000;

/** A valid two-cluster inventory: a root, an intermediate under it, four certificates, a credential. */
function baseDoc(): Doc {
  return {
    apiVersion: 'rekey/v1',
    kind: 'Inventory',
    metadata: { name: 'shop' },
    clusters: [{ name: 'dc1' }, { name: 'dc2', context: 'kind-dc2' }],
    authorities: [
      { name: 'root-ca', commonName: 'shop root', key: 'ECDSA-P384', validity: '87600h' },
      { name: 'mgmt', commonName: 'shop management', key: 'RSA-2048', validity: '43800h', parent: 'root-ca', pathLen: 0 },
    ],
    certificates: [
      { name: 'web', issuer: 'mgmt', usage: 'server', commonName: 'web', dnsNames: ['web', 'web.shop.svc'], ipAddresses: ['10.0.0.1'], secret: { name: 'web-tls', namespace: 'shop' } },
      { name: 'api', issuer: 'mgmt', usage: 'clientserver', commonName: 'api', secret: { name: 'api-tls', namespace: 'shop' }, consumers: ['Deployment/api'] },
      { name: 'worker', issuer: 'root-ca', usage: 'client', commonName: 'worker', secret: { name: 'worker-tls', namespace: 'shop', clusters: ['dc2'] } },
      { name: 'db', issuer: 'mgmt', usage: 'server', commonName: 'db', perReplica: { statefulSet: 'db', replicas: 2 }, secret: { name: 'db-tls', namespace: 'shop' } },
    ],
    credentials: [{ name: 'db-password', type: 'password', secret: { name: 'db-password', namespace: 'shop' } }],
  };
}

const yamlOf = (doc: Doc): string => dump(doc);

function issuesOf(text: string): InvalidInventoryError {
  try {
    loadInventory(text, 'inventory.yaml');
  } catch (e) {
    if (e instanceof InvalidInventoryError) return e;
    throw new Error(`expected InvalidInventoryError, got ${String(e)}`);
  }
  throw new Error('expected the inventory to be rejected');
}

interface BrokenCase {
  readonly name: string;
  readonly mutate: (doc: Doc) => void;
  readonly path: string;
  readonly message: RegExp;
}

const broken: BrokenCase[] = [
  { name: 'unknown field at top level', mutate: (d) => (d.colour = 'blue'), path: 'colour', message: /^unknown field$/ },
  { name: 'unknown field in a certificate', mutate: (d) => (d.certificates[0].foo = 1), path: 'certificates[0].foo', message: /^unknown field$/ },
  { name: 'unknown field deeper (secret)', mutate: (d) => (d.certificates[1].secret.namespcae = 'x'), path: 'certificates[1].secret.namespcae', message: /^unknown field$/ },
  { name: 'unknown field in metadata', mutate: (d) => (d.metadata.labels = {}), path: 'metadata.labels', message: /^unknown field$/ },
  { name: 'wrong apiVersion', mutate: (d) => (d.apiVersion = 'rekey/v2'), path: 'apiVersion', message: /rekey\/v1/ },
  { name: 'missing required field', mutate: (d) => delete d.certificates[2].commonName, path: 'certificates[2].commonName', message: /required field is missing/ },
  { name: 'missing usage names the choices', mutate: (d) => delete d.certificates[2].usage, path: 'certificates[2].usage', message: /"client"\|"server"\|"clientserver"/ },
  { name: 'duplicate names across kinds', mutate: (d) => (d.certificates[1].name = 'root-ca'), path: 'certificates[1].name', message: /duplicate name "root-ca" \(first at authorities\[0\]\)/ },
  { name: 'duplicate credential name', mutate: (d) => (d.credentials[0].name = 'web'), path: 'credentials[0].name', message: /duplicate name "web"/ },
  { name: 'unknown issuer', mutate: (d) => (d.certificates[3].issuer = 'mgmt-ca'), path: 'certificates[3].issuer', message: /^unknown authority "mgmt-ca"$/ },
  { name: 'unknown parent', mutate: (d) => (d.authorities[1].parent = 'nowhere'), path: 'authorities[1].parent', message: /^unknown authority "nowhere"$/ },
  {
    name: 'parent cycle a -> b -> a',
    mutate: (d) => d.authorities.push({ name: 'a', commonName: 'a', parent: 'b', validity: '100h' }, { name: 'b', commonName: 'b', parent: 'a', validity: '100h' }),
    path: 'authorities[2].parent',
    message: /cycle in authority parents: a -> b -> a/,
  },
  { name: 'self parent', mutate: (d) => (d.authorities[0].parent = 'root-ca'), path: 'authorities[0].parent', message: /cycle in authority parents: root-ca -> root-ca/ },
  { name: 'days are not a duration', mutate: (d) => (d.certificates[0].validity = '90d'), path: 'certificates[0].validity', message: /not a duration/ },
  { name: 'duration without unit', mutate: (d) => (d.authorities[0].renewBefore = '100'), path: 'authorities[0].renewBefore', message: /not a duration/ },
  { name: 'negative duration', mutate: (d) => (d.certificates[0].renewBefore = '-1h'), path: 'certificates[0].renewBefore', message: /must not be negative/ },
  { name: 'duration beyond Go range', mutate: (d) => (d.authorities[0].validity = '99999999999h'), path: 'authorities[0].validity', message: /not a duration/ },
  { name: 'bad duration in defaults', mutate: (d) => (d.defaults = { validity: '1y' }), path: 'defaults.validity', message: /not a duration/ },
  { name: 'renewBefore equal to validity', mutate: (d) => Object.assign(d.certificates[0], { validity: '100h', renewBefore: '100h' }), path: 'certificates[0].renewBefore', message: /must be shorter than validity/ },
  { name: 'renewBefore longer than validity', mutate: (d) => Object.assign(d.authorities[1], { renewBefore: '50000h' }), path: 'authorities[1].renewBefore', message: /must be shorter than validity/ },
  { name: 'leaf outlives its CA', mutate: (d) => (d.certificates[0].validity = '50000h'), path: 'certificates[0].validity', message: /^outlives its issuer "mgmt"$/ },
  { name: 'intermediate outlives its parent', mutate: (d) => (d.authorities[1].validity = '90000h'), path: 'authorities[1].validity', message: /^outlives its parent "root-ca"$/ },
  {
    name: 'intermediate under a pathLen 0 CA',
    mutate: (d) => d.authorities.push({ name: 'sub', commonName: 'sub', parent: 'mgmt', validity: '100h' }),
    path: 'authorities[2].parent',
    message: /pathLen 0/,
  },
  { name: 'bad key type', mutate: (d) => (d.certificates[0].key = 'RSA-1024'), path: 'certificates[0].key', message: /RSA-2048/ },
  { name: 'bad key type in defaults', mutate: (d) => (d.defaults = { key: 'ECDSA-P521' }), path: 'defaults.key', message: /ECDSA-P256/ },
  { name: 'bad usage', mutate: (d) => (d.certificates[1].usage = 'both'), path: 'certificates[1].usage', message: /clientserver/ },
  { name: 'bad IPv4 address', mutate: (d) => (d.certificates[0].ipAddresses = ['10.0.0.1', '300.1.2.3']), path: 'certificates[0].ipAddresses[1]', message: /not an IP address: "300.1.2.3"/ },
  { name: 'bad IPv6 address', mutate: (d) => (d.certificates[0].ipAddresses = ['2001:db8::1::2']), path: 'certificates[0].ipAddresses[0]', message: /not an IP address/ },
  { name: 'bad DNS name', mutate: (d) => (d.certificates[0].dnsNames = ['web', 'bad_name!']), path: 'certificates[0].dnsNames[1]', message: /not a DNS name: "bad_name!"/ },
  { name: 'DNS name starting with a dash', mutate: (d) => (d.certificates[0].dnsNames = ['-web.shop']), path: 'certificates[0].dnsNames[0]', message: /not a DNS name/ },
  { name: 'bad Secret name', mutate: (d) => (d.certificates[0].secret.name = 'Web_TLS'), path: 'certificates[0].secret.name', message: /DNS-1123/ },
  { name: 'bad namespace', mutate: (d) => (d.certificates[0].secret.namespace = 'Shop'), path: 'certificates[0].secret.namespace', message: /namespace/ },
  { name: 'unknown cluster in secret.clusters', mutate: (d) => (d.certificates[2].secret.clusters = ['dc2', 'dc3']), path: 'certificates[2].secret.clusters[1]', message: /^unknown cluster "dc3"$/ },
  { name: 'duplicate cluster', mutate: (d) => d.clusters.push({ name: 'dc1' }), path: 'clusters[2].name', message: /duplicate cluster "dc1"/ },
  { name: 'two items write the same Secret', mutate: (d) => (d.certificates[1].secret.name = 'web-tls'), path: 'certificates[1].secret', message: /Secret shop\/web-tls in cluster "dc1" is also written by certificates\[0\]/ },
  {
    name: 'a perReplica Secret collides with another item',
    mutate: (d) => (d.certificates[1].secret.name = 'db-tls-1'),
    path: 'certificates[3].secret',
    message: /Secret shop\/db-tls-1 in cluster "dc1" is also written by certificates\[1\]/,
  },
  { name: 'perReplica without secret', mutate: (d) => Object.assign(d.certificates[3], { secret: undefined, files: { dir: '/etc/db' } }), path: 'certificates[3].perReplica', message: /needs a secret/ },
  { name: 'certificate with neither secret nor files', mutate: (d) => delete d.certificates[0].secret, path: 'certificates[0]', message: /needs a secret or files/ },
  { name: 'credential with neither secret nor files', mutate: (d) => delete d.credentials[0].secret, path: 'credentials[0]', message: /needs a secret or files/ },
  { name: 'restart within with policy none', mutate: (d) => (d.certificates[1].restart = { policy: 'none', within: '5m' }), path: 'certificates[1].restart.within', message: /no meaning with policy none/ },
  { name: 'bad restart policy', mutate: (d) => (d.certificates[1].restart = 'sometimes'), path: 'certificates[1].restart', message: /./ },
  { name: 'bad consumer kind', mutate: (d) => (d.certificates[1].consumers = ['Foo/bar']), path: 'certificates[1].consumers[0]', message: /Kind\/name with Kind one of Deployment, StatefulSet, DaemonSet, Pod/ },
  { name: 'consumer selector with unknown field', mutate: (d) => (d.certificates[1].consumers = [{ selector: 'app=x', ns: 'y' }]), path: 'certificates[1].consumers[0].ns', message: /unknown field/ },
  { name: 'bad file mode', mutate: (d) => (d.certificates[0].files = { dir: '/etc/web', mode: '0999' }), path: 'certificates[0].files.mode', message: /octal/ },
  { name: 'database on a signing key', mutate: (d) => d.credentials.push({ name: 'jwt', type: 'jwt-signing-key', secret: { name: 'jwt', namespace: 'shop' }, database: { engine: 'postgres', urlFrom: 'env:X', role: 'r' } }), path: 'credentials[1].database', message: /only a password/ },
  { name: 'wrong type of value', mutate: (d) => (d.certificates[0].commonName = 42), path: 'certificates[0].commonName', message: /expected string/ },
  { name: 'too many replicas', mutate: (d) => (d.certificates[3].perReplica.replicas = 0), path: 'certificates[3].perReplica.replicas', message: /./ },
];

describe('loadInventory rejects broken inventories, naming the field path', () => {
  it.each(broken)('$name -> $path', ({ mutate, path, message }) => {
    // Prepare
    const doc = baseDoc();
    mutate(doc);
    // Act
    const error = issuesOf(yamlOf(doc));
    // Assess: the issue is there with its path, and the error text names it (this is what the CLI prints)
    const issue = error.issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(error.issues)).toBeDefined();
    expect(issue!.message).toMatch(message);
    expect(error.message).toContain(`${path}: ${issue!.message}`);
    expect(error.message.startsWith('inventory.yaml: ')).toBe(true);
    expect(error.invalidInput).toBe(true);
  });

  it('reports every problem at once, not only the first', () => {
    // Prepare
    const doc = baseDoc();
    doc.certificates[0].validity = '90d';
    doc.certificates[3].issuer = 'mgmt-ca';
    // Act
    const error = issuesOf(yamlOf(doc));
    // Assess: the shape error is reported; the cross-field one comes once the shape is right
    expect(error.issues.map((i) => i.path)).toContain('certificates[0].validity');
    doc.certificates[0].validity = '90h';
    const second = issuesOf(yamlOf({ ...doc, certificates: [...doc.certificates, { ...doc.certificates[1], name: 'api2', issuer: 'ghost', secret: { name: 'api2', namespace: 'shop' } }] }));
    expect(second.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['certificates[3].issuer', 'certificates[4].issuer']));
  });

  it('names line and column of a YAML syntax error', () => {
    // Prepare
    const text = 'apiVersion: rekey/v1\nkind: Inventory\nmetadata: {name: shop\ncertificates: []\n';
    // Act
    const error = issuesOf(text);
    // Assess
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toMatch(/^line \d+, column \d+$/);
    expect(error.message).toMatch(/line [34], column \d+/);
  });

  it('rejects duplicate YAML keys, with the line', () => {
    // Prepare
    const text = 'apiVersion: rekey/v1\nkind: Inventory\nmetadata: {name: a}\nmetadata: {name: b}\n';
    // Act
    const error = issuesOf(text);
    // Assess
    expect(error.issues[0]!.path).toBe('line 4, column 1');
    expect(error.issues[0]!.message).toMatch(/duplicate/);
  });

  it.each([
    ['an empty file', ''],
    ['a scalar', 'hello'],
    ['a list', '- 1\n- 2\n'],
    ['null', 'null'],
  ])('rejects %s', (_label, text) => {
    // Act
    const error = issuesOf(text);
    // Assess
    expect(error.issues.length).toBeGreaterThan(0);
  });
});

describe('loadInventory accepts valid inventories and applies defaults', () => {
  it('accepts JSON as well as YAML, with the same result', () => {
    // Prepare
    const doc = baseDoc();
    // Act
    const fromYaml = loadInventory(yamlOf(doc));
    const fromJson = loadInventory(JSON.stringify(doc, null, 2));
    // Assess
    expect(fromJson).toEqual(fromYaml);
    expect(fromJson.name).toBe('shop');
  });

  it('applies built-in defaults: ECDSA-P256, 2160h leaves renewing 720h before, 87600h CAs renewing at a third, rolling restarts', () => {
    // Prepare
    const text = [
      'apiVersion: rekey/v1',
      'kind: Inventory',
      'metadata: {name: plain}',
      'authorities: [{name: ca, commonName: ca}]',
      'certificates: [{name: c, issuer: ca, usage: server, commonName: c, secret: {name: c, namespace: ns}}]',
    ].join('\n');
    // Act
    const inv = loadInventory(text);
    // Assess
    const ca = inv.authorities[0]!;
    const c = inv.certificates[0]!;
    expect(ca).toMatchObject({ keyType: 'ECDSA-P256', validityMs: 87600 * HOUR, renewBeforeMs: Math.floor((87600 * HOUR) / 3) });
    expect(ca.parent).toBeUndefined();
    expect(c).toMatchObject({ keyType: 'ECDSA-P256', validityMs: 2160 * HOUR, renewBeforeMs: 720 * HOUR, adopt: false, restart: { policy: 'rolling' } });
    expect(c.dnsNames).toEqual([]);
    expect(c.ipAddresses).toEqual([]);
  });

  it('applies the inventory defaults block to every item that does not say otherwise', () => {
    // Prepare
    const doc = baseDoc();
    doc.defaults = { key: 'Ed25519', validity: '300h', renewBefore: '30h', restart: { policy: 'together', within: '5m' } };
    doc.certificates[1].key = 'RSA-3072';
    doc.certificates[1].restart = 'none';
    delete doc.authorities[0].key;
    // Act
    const inv = loadInventory(yamlOf(doc));
    // Assess
    const [web, api] = inv.certificates;
    expect(web).toMatchObject({ keyType: 'Ed25519', validityMs: 300 * HOUR, renewBeforeMs: 30 * HOUR, restart: { policy: 'together', withinMs: 5 * 60_000 } });
    expect(api).toMatchObject({ keyType: 'RSA-3072', restart: { policy: 'none' } });
    expect(inv.authorities[0]).toMatchObject({ keyType: 'Ed25519', validityMs: 87600 * HOUR });
  });

  it('defaults renewBefore to a third of a short validity', () => {
    // Prepare
    const doc = baseDoc();
    doc.certificates[0].validity = '24h';
    // Act
    const inv = loadInventory(yamlOf(doc));
    // Assess
    expect(inv.certificates[0]!.renewBeforeMs).toBe(8 * HOUR);
  });

  it('without clusters there is one cluster named "default", and every Secret goes there', () => {
    // Prepare
    const doc = baseDoc();
    delete doc.clusters;
    delete doc.certificates[2].secret.clusters;
    // Act
    const inv = loadInventory(yamlOf(doc));
    // Assess
    expect(inv.clusters).toEqual([{ name: 'default', context: 'default' }]);
    for (const c of inv.certificates) expect(c.secret!.clusters).toEqual(['default']);
  });

  it('secret.clusters defaults to every cluster; a given list is kept; contexts default to names', () => {
    // Act
    const inv = loadInventory(yamlOf(baseDoc()));
    // Assess
    expect(inv.clusters).toEqual([{ name: 'dc1', context: 'dc1' }, { name: 'dc2', context: 'kind-dc2' }]);
    const byName = new Map(inv.certificates.map((c) => [c.name, c]));
    expect(byName.get('web')!.secret!.clusters).toEqual(['dc1', 'dc2']);
    expect(byName.get('worker')!.secret!.clusters).toEqual(['dc2']);
    expect(inv.credentials[0]!.secret!.clusters).toEqual(['dc1', 'dc2']);
  });

  it('accepts every key type with every usage', () => {
    // Prepare
    const doc = baseDoc();
    doc.certificates = KEY_TYPES.flatMap((key) =>
      USAGES.map((usage) => {
        const name = `${key.toLowerCase()}-${usage}`;
        return { name, issuer: 'root-ca', usage, key, commonName: name, secret: { name, namespace: 'shop' } };
      }),
    );
    doc.authorities = KEY_TYPES.map((key, i) => ({ name: i === 0 ? 'root-ca' : `ca-${key.toLowerCase()}`, commonName: key, key, ...(i > 0 && { parent: 'root-ca', validity: '1000h' }) }));
    // Act
    const inv = loadInventory(yamlOf(doc));
    // Assess
    expect(inv.certificates).toHaveLength(KEY_TYPES.length * USAGES.length);
    expect(new Set(inv.certificates.map((c) => `${c.keyType}/${c.usage}`)).size).toBe(18);
    expect(inv.authorities.map((a) => a.keyType)).toEqual([...KEY_TYPES]);
  });

  it('resolves consumers, restart forms, files defaults and IPv6 addresses', () => {
    // Prepare
    const doc = baseDoc();
    Object.assign(doc.certificates[0], {
      consumers: ['StatefulSet/postgres', 'DaemonSet/agent', 'Pod/one-off', { selector: 'app.kubernetes.io/part-of=portal', namespace: 'portal' }, { selector: 'app=x' }],
      restart: { policy: 'rolling' },
      files: { dir: '/etc/web', reload: 'systemctl reload nginx' },
      ipAddresses: ['::1', '2001:db8::7', '192.168.0.1'],
      uris: ['spiffe://shop/web'],
    });
    // Act
    const web = loadInventory(yamlOf(doc)).certificates[0]!;
    // Assess
    expect(web.consumers).toEqual([
      { kind: 'workload', workloadKind: 'StatefulSet', name: 'postgres' },
      { kind: 'workload', workloadKind: 'DaemonSet', name: 'agent' },
      { kind: 'workload', workloadKind: 'Pod', name: 'one-off' },
      { kind: 'selector', selector: 'app.kubernetes.io/part-of=portal', namespace: 'portal' },
      { kind: 'selector', selector: 'app=x' },
    ]);
    expect(web.restart).toEqual({ policy: 'rolling' });
    expect(web.files).toEqual({ dir: '/etc/web', cert: 'tls.crt', key: 'tls.key', mode: 0o600, reload: 'systemctl reload nginx' });
    expect(web.ipAddresses).toEqual(['::1', '2001:db8::7', '192.168.0.1']);
    expect(web.uris).toEqual(['spiffe://shop/web']);
  });

  it('keeps the field path of each item and makes one unit per replica of a perReplica certificate', () => {
    // Act
    const inv = loadInventory(yamlOf(baseDoc()));
    // Assess
    const db = inv.items.get('db') as Certificate;
    expect(db.path).toBe('certificates[3]');
    expect(inv.items.get('mgmt')!.path).toBe('authorities[1]');
    expect(inv.items.get('db-password')!.path).toBe('credentials[0]');
    const units = unitsOf(inv, db);
    expect(units.map((u) => [u.key, u.secretName, u.commonName, u.storeName])).toEqual([
      ['db/0', 'db-tls-0', 'db-0', 'rekey/shop/db/0'],
      ['db/1', 'db-tls-1', 'db-1', 'rekey/shop/db/1'],
    ]);
    expect(units[1]!.dnsNames).toEqual(['db-1', 'db-1.db.shop.svc']);
  });
});
