import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../../../shared/domain/errors.js';
import { documentShapeIssues } from '../../../../shared/domain/inventory/document-shape.js';
import { LIMITS } from '../../../../shared/domain/inventory/limits.js';
import { loadInventory, parseInventoryText } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { estimateCertificateSize } from '../../../../shared/domain/inventory/secret-size.js';
import { inventoryWarnings } from '../../../../shared/domain/inventory/warnings.js';
import { issueMaterial, issuerMaterialOf, type IssuerMaterial } from '../../../../shared/domain/pki/issue.js';
import { issuerPath, unitsOf } from '../../../../shared/domain/units.js';

/** The inventory-level defences of issue 9: tree shape, validity floor, size estimates, warnings. */

const HEAD = 'apiVersion: rekey/v1\nkind: Inventory\nmetadata: {name: t}\nauthorities:\n  - {name: ca, commonName: ca, validity: 87600h}\n';
const withCertificate = (fields: string) =>
  `${HEAD}certificates:\n  - {name: web, issuer: ca, usage: server, commonName: web, secret: {name: web, namespace: ns}, ${fields}}\n`;

function issuesOf(text: string): InvalidInventoryError['issues'] {
  try {
    loadInventory(text);
  } catch (e) {
    if (e instanceof InvalidInventoryError) return e.issues;
    throw e;
  }
  throw new Error('expected the inventory to be refused');
}

describe('document shape: aliases, cycles, merge keys', () => {
  it('lets an alias repeat a value a few times (the text stays readable, the expansion small)', () => {
    // Prepare
    const text =
      `${HEAD}clusters: &both [{name: dc1}, {name: dc2}]\ncertificates:\n` +
      Array.from(
        { length: 50 },
        (_, i) =>
          `  - {name: c${i}, issuer: ca, usage: server, commonName: c${i}, consumers: &c${i} [Deployment/a, Deployment/b], secret: {name: c${i}, namespace: ns}}`,
      ).join('\n') +
      '\n';
    // Act
    const inv = loadInventory(text);
    // Assess
    expect(inv.certificates).toHaveLength(50);
  });

  it.each([
    [2, 10, false],
    [1, 60, false],
    [3, 10, true],
    [9, 10, true],
  ])('%i levels of %i aliases: refused = %s', (levels, width, refused) => {
    // Prepare: level i is a list of `width` aliases of level i-1
    const lines = [`l0: &l0 [${Array(width).fill('x').join(', ')}]`];
    for (let i = 1; i <= levels; i++)
      lines.push(
        `l${i}: &l${i} [${Array(width)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      );
    const data = parseInventoryText(lines.join('\n'));
    // Act
    const issues = documentShapeIssues(data);
    // Assess
    const expansion = Array.from({ length: levels + 1 }, (_, i) => width ** (i + 1)).reduce((a, b) => a + b, 0);
    expect(expansion > LIMITS.aliasExpansion + (levels + 1) * width, `expansion ${expansion}`).toBe(refused);
    expect(issues.some((i) => /aliases expand the document/.test(i.message))).toBe(refused);
  });

  it('stops a billion-laughs document without walking it (the budget bounds the work)', () => {
    // Prepare: 10^12 values once expanded
    const lines = ['l0: &l0 [a, a, a, a, a, a, a, a, a, a]'];
    for (let i = 1; i <= 12; i++)
      lines.push(
        `l${i}: &l${i} [${Array(10)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      );
    // Act
    const issues = documentShapeIssues(parseInventoryText(lines.join('\n')));
    // Assess
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toMatch(/^l\d+/);
  });

  it('names a merge key as such, and nothing misleading about the fields it would have merged', () => {
    // Prepare
    const text = `${HEAD}certificates:\n  - &base {name: web, issuer: ca, usage: server, commonName: web, secret: {name: web, namespace: ns}}\n  - <<: *base\n    name: api\n`;
    // Act
    const issues = issuesOf(text);
    // Assess
    expect(issues).toEqual([{ path: 'certificates[1].<<', message: expect.stringMatching(/YAML merge keys \("<<"\) are not supported/) }]);
  });

  it('refuses an alias that contains itself', () => {
    expect(issuesOf(withCertificate('consumers: &c [Deployment/a, *c]'))).toEqual([
      { path: 'certificates[0].consumers[1]', message: 'a YAML alias that contains itself (a cycle)' },
    ]);
  });

  it('refuses text over the size cap before parsing it', () => {
    expect(() => parseInventoryText(' '.repeat(LIMITS.inventoryBytes + 1))).toThrow(/at most 16777216/);
  });
});

describe('validity floor', () => {
  it.each(['0', '0s', '1ms', '1ns', '59m59s'])('validity %s is a validity error, and only that', (validity) => {
    // Act
    const issues = issuesOf(withCertificate(`validity: "${validity}", renewBefore: 1m`));
    // Assess
    expect(issues).toEqual([{ path: 'certificates[0].validity', message: 'must be at least 1h' }]);
  });

  it('accepts exactly one hour', () => {
    expect(loadInventory(withCertificate('validity: 1h, renewBefore: 20m')).certificates[0]!.validityMs).toBe(3_600_000);
  });

  it('keeps the Go-duration messages for what is not a duration at all', () => {
    expect(issuesOf(withCertificate('validity: 90d'))).toEqual([
      { path: 'certificates[0].validity', message: 'not a duration (Go style: 2160h, 30m, 90s)' },
    ]);
  });
});

describe('IPv4-mapped IPv6 addresses', () => {
  it('are accepted and end up in the certificate as the same address', () => {
    // Prepare
    const inv = loadInventory(withCertificate('ipAddresses: ["::ffff:1.2.3.4", "10.0.0.1", "2001:db8::1"]'));
    const [caUnit] = unitsOf(inv, inv.authorities[0]!);
    const ca = issueMaterial(caUnit!, undefined, new Date('2026-01-01T00:00:00Z'), 'x');
    const [unit] = unitsOf(inv, inv.certificates[0]!);
    // Act
    const leaf = issueMaterial(unit!, issuerMaterialOf('ca', ca, true), new Date('2026-01-01T00:00:00Z'), 'y');
    // Assess
    const cert = new X509Certificate(leaf.cert);
    expect(cert.subjectAltName).toMatch(/IP Address:10\.0\.0\.1/);
    expect(cert.checkIP('::ffff:1.2.3.4')).toBe('::ffff:1.2.3.4');
    expect(cert.checkIP('2001:db8::1')).toBe('2001:db8::1');
    expect(inv.certificates[0]!.ipAddresses).toEqual(['::ffff:102:304', '10.0.0.1', '2001:db8::1']);
  });
});

describe('store entry and Secret size estimate', () => {
  /** Issues every authority down to the certificate's issuer and the certificate itself; returns the real sizes. */
  function realSizes(inv: Inventory) {
    const now = new Date('2026-01-01T00:00:00Z');
    const issued = new Map<string, IssuerMaterial>();
    const cert = inv.certificates[0]!;
    for (const a of issuerPath(inv, cert.issuer).reverse()) {
      const parent = a.parent !== undefined ? issued.get(a.parent) : undefined;
      const material = issueMaterial(unitsOf(inv, a)[0]!, parent, now, 'spec');
      issued.set(a.name, issuerMaterialOf(a.name, material, parent === undefined));
    }
    const units = unitsOf(inv, cert);
    const leaf = issueMaterial(units[units.length - 1]!, issued.get(cert.issuer), now, '0123456789abcdef');
    const b64 = (s: string) => Buffer.from(s).toString('base64').length;
    return { storeEntry: Buffer.byteLength(JSON.stringify(leaf)), secret: b64(leaf.cert + leaf.chain) + b64(leaf.key) + b64(leaf.ca) };
  }

  const long = (i: number) => `${'a'.repeat(57)}${String(i).padStart(4, '0')}.${'b'.repeat(61)}.${'c'.repeat(61)}.${'d'.repeat(60)}`;
  const chain = (key: string, depth: number, o = 0) => {
    const subject = o ? `, organization: [${Array.from({ length: o }, (_, i) => `o${i}`.padEnd(64, 'o')).join(', ')}]` : '';
    const lines = [`  - {name: ca, commonName: ca, key: ${key}, validity: 87600h${subject}}`];
    for (let i = 1; i < depth; i++)
      lines.push(
        `  - {name: ca${i}, commonName: ca${i}, key: ${key}, validity: ${87600 - i}h, parent: ${i === 1 ? 'ca' : `ca${i - 1}`}${subject}}`,
      );
    return lines.join('\n') + '\n';
  };
  const inventory = (authorities: string, issuer: string, fields: string) =>
    `apiVersion: rekey/v1\nkind: Inventory\nmetadata: {name: t}\nauthorities:\n${authorities}certificates:\n  - {name: web, issuer: ${issuer}, usage: server, commonName: web, secret: {name: web, namespace: ns}, ${fields}}\n`;

  it.each([
    ['one ECDSA root, two names', chain('ECDSA-P256', 1), 'ca', 'dnsNames: [web, web.ns.svc]'],
    [
      'Ed25519, IPs and URIs',
      chain('Ed25519', 1),
      'ca',
      'key: Ed25519, ipAddresses: [10.0.0.1, "::1"], uris: ["spiffe://example.org/web"]',
    ],
    [
      'RSA-4096 under three RSA-2048 intermediates, 100 long names',
      chain('RSA-2048', 4),
      'ca3',
      `key: RSA-4096, dnsNames: [${Array.from({ length: 100 }, (_, i) => long(i)).join(', ')}]`,
    ],
    [
      'P-384 chain with full O values, perReplica',
      chain('ECDSA-P384', 3, 8),
      'ca2',
      'key: ECDSA-P384, dnsNames: [db], perReplica: {statefulSet: db, replicas: 12}',
    ],
    ['RSA-2048, no SANs', chain('RSA-2048', 2), 'ca1', 'key: RSA-2048'],
  ])('%s: the estimate is above the real size and within a third of it', (_label, authorities, issuer, fields) => {
    // Prepare
    const inv = loadInventory(inventory(authorities, issuer, fields));
    // Act
    const estimate = estimateCertificateSize(inv, inv.certificates[0]!);
    const real = realSizes(inv);
    // Assess: the estimate holds the CA bundle twice (rotation overlap), hence the margin for the store entry
    expect(estimate.storeEntry).toBeGreaterThanOrEqual(real.storeEntry);
    expect(estimate.secret).toBeGreaterThanOrEqual(real.secret);
    expect(estimate.storeEntry - real.storeEntry).toBeLessThan(real.storeEntry / 3 + 2048);
  });

  it('refuses a certificate whose version would not fit in Secrets Manager, naming it', () => {
    // Prepare: ten RSA-4096 intermediates with eight 64-character O values each, and 100 long names
    const text = inventory(
      chain('RSA-4096', 11, 8),
      'ca10',
      `key: RSA-4096, dnsNames: [${Array.from({ length: 100 }, (_, i) => long(i)).join(', ')}]`,
    );
    // Act
    const issues = issuesOf(text);
    // Assess
    expect(issues).toEqual([
      {
        path: 'certificates[0]',
        message: expect.stringMatching(/^a version would take about \d+ bytes; Secrets Manager stores at most 65536/),
      },
    ]);
  });
});

describe('inventoryWarnings', () => {
  it.each([
    ['0600', []],
    ['0400', []],
    ['0640', ['0640 lets group read the private key file tls.key: prefer "0600"']],
    ['0604', ['0604 lets other read the private key file tls.key: prefer "0600"']],
    ['0644', ['0644 lets group and other read the private key file tls.key: prefer "0600"']],
  ])('a certificate key file with mode %s', (mode, messages) => {
    // Prepare
    const inv = loadInventory(
      `${HEAD}certificates:\n  - {name: web, issuer: ca, usage: server, commonName: web, files: {dir: /etc/web, mode: "${mode}"}}\n`,
    );
    // Act
    const warnings = inventoryWarnings(inv);
    // Assess
    expect(warnings.map((w) => w.message)).toEqual(messages);
    for (const w of warnings) expect(w).toMatchObject({ item: 'web', path: 'certificates[0].files.mode' });
  });

  it('says nothing about a CA certificate file, which holds no key', () => {
    const inv = loadInventory(
      'apiVersion: rekey/v1\nkind: Inventory\nmetadata: {name: t}\nauthorities:\n  - {name: ca, commonName: ca, files: {dir: /etc/ca, mode: "0644"}}\n',
    );
    expect(inventoryWarnings(inv)).toEqual([]);
  });
});
