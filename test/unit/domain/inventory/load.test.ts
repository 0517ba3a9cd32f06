import { describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../../../shared/domain/errors.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Certificate } from '../../../../shared/domain/inventory/model.js';
import { KEY_TYPES, USAGES } from '../../../../shared/domain/inventory/schema.js';
import { unitsOf } from '../../../../shared/domain/units.js';
import { baseDoc, BROKEN_INVENTORIES, yamlOf } from '../../../fixtures/inventories.js';

const HOUR = 3_600_000;

function issuesOf(text: string): InvalidInventoryError {
  try {
    loadInventory(text, 'inventory.yaml');
  } catch (e) {
    if (e instanceof InvalidInventoryError) return e;
    throw new Error(`expected InvalidInventoryError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected the inventory to be rejected');
}

describe('loadInventory rejects broken inventories, naming the field path', () => {
  it.each(BROKEN_INVENTORIES)('$name -> $path', ({ mutate, path, message }) => {
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
    const second = issuesOf(
      yamlOf({
        ...doc,
        certificates: [
          ...doc.certificates,
          { ...doc.certificates[1], name: 'api2', issuer: 'ghost', secret: { name: 'api2', namespace: 'shop' } },
        ],
      }),
    );
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
    expect(c).toMatchObject({
      keyType: 'ECDSA-P256',
      validityMs: 2160 * HOUR,
      renewBeforeMs: 720 * HOUR,
      adopt: false,
      restart: { policy: 'rolling' },
    });
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
    expect(web).toMatchObject({
      keyType: 'Ed25519',
      validityMs: 300 * HOUR,
      renewBeforeMs: 30 * HOUR,
      restart: { policy: 'together', withinMs: 5 * 60_000 },
    });
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
    expect(inv.clusters).toEqual([
      { name: 'dc1', context: 'dc1' },
      { name: 'dc2', context: 'kind-dc2' },
    ]);
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
    doc.authorities = KEY_TYPES.map((key, i) => ({
      name: i === 0 ? 'root-ca' : `ca-${key.toLowerCase()}`,
      commonName: key,
      key,
      ...(i > 0 && { parent: 'root-ca', validity: '1000h' }),
    }));
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
      consumers: [
        'StatefulSet/postgres',
        'DaemonSet/agent',
        'Pod/one-off',
        { selector: 'app.kubernetes.io/part-of=portal', namespace: 'portal' },
        { selector: 'app=x' },
      ],
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
