import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../cli/main.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities: [{name: ca, commonName: ca}]
certificates: [{name: web, issuer: ca, usage: server, commonName: web, secret: {name: web, namespace: shop}}]
`;

let root: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-main-');
});
afterAll(() => removeTempDir(root));

describe('main(argv)', () => {
  it('returns each call its own exit code: a failed apply does not leak its 1 into the next command', async () => {
    // Prepare: an unmanaged Secret where apply must write makes apply exit 1
    const file = join(root, 'inv.yaml');
    writeFileSync(file, INVENTORY);
    mkdirSync(join(root, 'out', 'default', 'shop'), { recursive: true });
    writeFileSync(
      join(root, 'out', 'default', 'shop', 'web.yaml'),
      'apiVersion: v1\nkind: Secret\nmetadata: {name: web, namespace: shop}\ntype: Opaque\ndata: {}\n',
    );
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const exitCodeBefore = process.exitCode;
    try {
      // Act
      const applied = await main(['apply', '-f', file, '--out', join(root, 'out'), '--state', join(root, 'state')]);
      const validated = await main(['validate', '-f', file]);
      // Assess
      expect(applied).toBe(1);
      expect(out.mock.calls.map((c) => String(c[0])).join('')).toMatch(/not written: default\/shop\/web/);
      expect(validated).toBe(0);
      expect(process.exitCode).toBe(exitCodeBefore);
    } finally {
      out.mockRestore();
      err.mockRestore();
      process.exitCode = exitCodeBefore;
    }
  });
});
