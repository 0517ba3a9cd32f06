import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { checkCertificateMaterial } from '../../../../shared/domain/pki/check.js';
import { issueMaterial, issuerMaterialOf } from '../../../../shared/domain/pki/issue.js';
import { pathLenOf } from '../../../../shared/domain/pki/path-length.js';
import { intermediateDepthBelow, newAuthorityProblems } from '../../../../shared/domain/rotation/authority-scope.js';
import type { Authority } from '../../../../shared/domain/inventory/model.js';
import { specHashOf } from '../../../../shared/domain/units.js';
import { runMain } from '../../../fixtures/cli.js';
import { unitOf } from '../../../fixtures/pki.js';

const NOW = new Date('2031-02-03T04:05:06Z');

const inventory = (rootPathLen: string, levels: number) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: pathlen}
authorities:
  - {name: root, commonName: root, key: ECDSA-P256, validity: 87600h${rootPathLen}}
${Array.from({ length: levels }, (_, i) => `  - {name: int${i + 1}, commonName: int${i + 1}, key: ECDSA-P256, validity: 43800h, parent: ${i === 0 ? 'root' : `int${i}`}}`).join('\n')}
certificates:
  - {name: web, issuer: ${levels ? `int${levels}` : 'root'}, usage: server, key: ECDSA-P256, commonName: web, dnsNames: [web], validity: 2160h, secret: {name: web, namespace: shop}}
`;

describe('pathLen (RFC 5280 pathLenConstraint)', () => {
  it('validate refuses an intermediate under a CA whose pathLen does not allow it, naming the authority', () => {
    // Act + Assess
    expect(() => loadInventory(inventory(', pathLen: 0', 1))).toThrow(
      /authorities\[1\]\.parent.*"root" has pathLen 0: it cannot have intermediates/s,
    );
    expect(() => loadInventory(inventory(', pathLen: 1', 2))).toThrow(
      /authorities\[2\]\.parent.*"root" has pathLen 1: it cannot have 2 levels of intermediates \(int2 would be one too many\)/s,
    );
    expect(() => loadInventory(inventory(', pathLen: 1', 1))).not.toThrow();
    expect(() => loadInventory(inventory(', pathLen: 0', 0))).not.toThrow();
    expect(() => loadInventory(inventory('', 3))).not.toThrow();
  });

  it('rekey validate exits 2 on it and says why', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'rekey-pathlen-'));
    const file = join(dir, 'inventory.yaml');
    await writeFile(file, inventory(', pathLen: 0', 1));
    try {
      // Act
      const r = await runMain(['validate', '-f', file]);
      // Assess
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).toMatch(/"root" has pathLen 0: it cannot have intermediates/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the constraint from issued certificates (none, 0, 1)', () => {
    // Prepare
    const inv = loadInventory(inventory(', pathLen: 1', 1));
    const unlimited = loadInventory(inventory('', 0));
    // Act
    const root = issueMaterial(unitOf(inv, 'root'), undefined, NOW, 'h');
    const int1 = issueMaterial(unitOf(inv, 'int1'), issuerMaterialOf('root', root, true), NOW, 'h');
    const free = issueMaterial(unitOf(unlimited, 'root'), undefined, NOW, 'h');
    // Assess
    expect(pathLenOf(new X509Certificate(root.cert))).toBe(1);
    expect(pathLenOf(new X509Certificate(int1.cert))).toBeUndefined();
    expect(pathLenOf(new X509Certificate(free.cert))).toBeUndefined();
    const zero = issueMaterial(unitOf(loadInventory(inventory(', pathLen: 0', 0)), 'root'), undefined, NOW, 'h');
    expect(pathLenOf(new X509Certificate(zero.cert))).toBe(0);
  });

  it('the test step refuses an intermediate (and its leaves) under a CA with pathLen 0, and accepts a pathLen-0 root alone', () => {
    // Prepare: a root issued with pathLen 0 (an older inventory, or imported), then an intermediate under it
    const zeroRoot = issueMaterial(unitOf(loadInventory(inventory(', pathLen: 0', 0)), 'root'), undefined, NOW, 'h');
    const inv = loadInventory(inventory('', 1));
    const int1Unit = unitOf(inv, 'int1');
    const int1 = issueMaterial(int1Unit, issuerMaterialOf('root', zeroRoot, true), NOW, specHashOf(int1Unit));
    const webUnit = unitOf(inv, 'web');
    const web = issueMaterial(webUnit, issuerMaterialOf('int1', int1, false), NOW, specHashOf(webUnit));
    const direct = issueMaterial(
      unitOf(loadInventory(inventory(', pathLen: 0', 0)), 'web'),
      issuerMaterialOf('root', zeroRoot, true),
      NOW,
      'h',
    );
    // Act + Assess
    expect(checkCertificateMaterial(int1Unit, int1, NOW)).toEqual([
      expect.stringMatching(/CN=root has pathLen 0 but 1 intermediate CA\(s\) follow it/),
    ]);
    expect(checkCertificateMaterial(webUnit, web, NOW)).toEqual([expect.stringMatching(/has pathLen 0 but 1 intermediate/)]);
    expect(checkCertificateMaterial(unitOf(inv, 'root'), zeroRoot, NOW)).toEqual([]);
    expect(checkCertificateMaterial(unitOf(inv, 'web'), direct, NOW).filter((p) => p.includes('pathLen'))).toEqual([]);
  });

  it("an authority rotation's test refuses a new CA whose pathLen does not cover the intermediates below it", () => {
    // Prepare
    const inv = loadInventory(inventory('', 2));
    const zeroRoot = issueMaterial(unitOf(loadInventory(inventory(', pathLen: 0', 0)), 'root'), undefined, NOW, 'h');
    const oneRoot = issueMaterial(unitOf(loadInventory(inventory(', pathLen: 1', 1)), 'root'), undefined, NOW, 'h');
    const root = inv.items.get('root') as Authority;
    // Act
    const depth = intermediateDepthBelow(inv, root);
    // Assess
    expect(depth).toBe(2);
    expect(intermediateDepthBelow(inv, inv.items.get('int1') as Authority)).toBe(1);
    expect(intermediateDepthBelow(inv, inv.items.get('int2') as Authority)).toBe(0);
    expect(newAuthorityProblems(zeroRoot, [], depth)).toEqual(['the new CA has pathLen 0 but 2 level(s) of intermediate CAs are below it']);
    expect(newAuthorityProblems(oneRoot, [], 1)).toEqual([]);
    expect(newAuthorityProblems(oneRoot, [], 0)).toEqual([]);
  });
});
