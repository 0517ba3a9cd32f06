import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalHostFiles } from '../../../../shared/adapters/local/host-files.js';
import { DATA_LINK } from '../../../../shared/adapters/local/versioned-files.js';
import type { FilePlacement } from '../../../../shared/domain/inventory/model.js';
import { issueMaterial } from '../../../../shared/domain/pki/issue.js';
import { FileChange } from '../../../../shared/ports/host-files.js';
import { specHashOf } from '../../../../shared/domain/units.js';
import { pkiInventory, unitOf } from '../../../fixtures/pki.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/**
 * The `versioned` layout of host files: certificate, key and CA switch together in one rename of `..data`, so a
 * reader never pairs one version's certificate with another's key.
 */

let root: string;
let placement: FilePlacement;
let host: LocalHostFiles;

beforeEach(async () => {
  root = await makeTempDir('rekey-host-layout-');
  await mkdir(join(root, 'state'));
  placement = { dir: join(root, 'tls'), cert: 'server.crt', key: 'server.key', ca: 'ca.crt', mode: 0o640, layout: 'versioned' };
  host = new LocalHostFiles({ stateDir: join(root, 'state') });
});
afterEach(() => removeTempDir(root));

/** Fresh key pairs with their certificates (self-signed CAs of the PKI fixture: a real key and a real certificate). */
function pairs(n: number): Array<Record<string, string>> {
  const unit = unitOf(pkiInventory(), 'other-root');
  return Array.from({ length: n }, () => {
    const m = issueMaterial(unit, undefined, new Date(), specHashOf(unit));
    return { 'server.crt': m.cert, 'server.key': m.key, 'ca.crt': m.cert };
  });
}

/** Whether the certificate's public key is the private key's (node:crypto, SPKI DER compared). */
function matches(certPem: string, keyPem: string): boolean {
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  return fromCert.equals(fromKey);
}

const read = (name: string) => readFile(join(placement.dir, name), 'utf8');

describe('host files, layout versioned', () => {
  it('a reader looping over certificate and key while they are rotated 25 times never sees a mismatched pair', async () => {
    // Prepare
    const versions = pairs(25);
    await host.write(placement, versions[0]!);
    let writing = true;
    let pairsRead = 0;
    const mismatched: string[] = [];
    // Reads the certificate, the key, the certificate again: when both certificate reads agree, no switch came
    // between them, so the key read between them belongs to the same moment and must match it.
    const reader = (async () => {
      while (writing) {
        const cert = await read('server.crt');
        const key = await read('server.key');
        const again = await read('server.crt');
        if (cert !== again) continue;
        pairsRead++;
        if (!matches(cert, key)) mismatched.push(new X509Certificate(cert).serialNumber);
      }
    })();

    // Act
    for (const files of versions.slice(1)) {
      await host.write(placement, files);
      await new Promise((r) => setImmediate(r));
    }
    writing = false;
    await reader;

    // Assess
    expect(mismatched).toEqual([]);
    expect(pairsRead).toBeGreaterThan(25);
    expect(await read('server.crt')).toBe(versions.at(-1)!['server.crt']);
    expect(matches(await read('server.crt'), await read('server.key'))).toBe(true);
  });

  it('names are symlinks into ..data, which points at one version folder; the previous version is kept, older ones removed', async () => {
    // Prepare
    const [a, b, c] = pairs(3);
    // Act
    await host.write(placement, a!);
    await host.write(placement, b!);
    await host.write(placement, c!);
    // Assess
    for (const name of ['server.crt', 'server.key', 'ca.crt']) {
      expect((await lstat(join(placement.dir, name))).isSymbolicLink(), name).toBe(true);
      expect(await readlink(join(placement.dir, name))).toBe(`${DATA_LINK}/${name}`);
      expect((await stat(join(placement.dir, name))).mode & 0o777, name).toBe(0o640);
    }
    const current = await readlink(join(placement.dir, DATA_LINK));
    expect(await readFile(join(placement.dir, current, 'server.key'), 'utf8')).toBe(c!['server.key']);
    const folders = (await readdir(placement.dir)).filter((e) => e.startsWith('..rekey-'));
    expect(folders).toHaveLength(2);
    expect(folders).toContain(current);
    expect(await host.check(placement, c!)).toEqual([]);
  });

  it('plain files of the files layout are taken over without a moment of mismatch: first linked as they are, then switched', async () => {
    // Prepare: plain files, as the files layout left them
    const [old, next] = pairs(2);
    await mkdir(placement.dir, { recursive: true });
    for (const [name, content] of Object.entries(old!)) await writeFile(join(placement.dir, name), content, { mode: 0o640 });
    // Act
    const drift = await host.write(placement, next!);
    // Assess
    expect(drift.map((d) => d.change)).toEqual([FileChange.Content, FileChange.Content, FileChange.Content]);
    expect(await read('server.crt')).toBe(next!['server.crt']);
    expect(matches(await read('server.crt'), await read('server.key'))).toBe(true);
    const folders = (await readdir(placement.dir)).filter((e) => e.startsWith('..rekey-'));
    expect(folders).toHaveLength(2); // the taken-over version (previous) and the new one
    const current = await readlink(join(placement.dir, DATA_LINK));
    const taken = folders.find((f) => f !== current)!;
    expect(await readFile(join(placement.dir, taken, 'server.crt'), 'utf8')).toBe(old!['server.crt']);
    expect(await readFile(join(placement.dir, taken, 'server.key'), 'utf8')).toBe(old!['server.key']);
  });

  it('the same content but a plain file is drift in the versioned layout; a mode drift is a chmod of the current version', async () => {
    // Prepare
    const [a] = pairs(1);
    await mkdir(placement.dir, { recursive: true });
    for (const [name, content] of Object.entries(a!)) await writeFile(join(placement.dir, name), content, { mode: 0o640 });
    // Act
    const seen = await host.check(placement, a!);
    await host.write(placement, a!);
    await chmod(join(placement.dir, 'server.key'), 0o600);
    const modeDrift = await host.write(placement, a!);
    // Assess
    expect(seen.map((d) => d.change)).toEqual([FileChange.Content, FileChange.Content, FileChange.Content]);
    expect(modeDrift).toEqual([{ name: 'server.key', change: FileChange.Mode }]);
    expect((await stat(join(placement.dir, 'server.key'))).mode & 0o777).toBe(0o640);
    expect((await lstat(join(placement.dir, 'server.key'))).isSymbolicLink()).toBe(true);
  });
});

describe('host files, layout files (default)', () => {
  it('writes every changed file before renaming any: the pair on disk matches after each write', async () => {
    // Prepare
    const { layout: _versioned, ...plain } = placement;
    const versions = pairs(3);
    // Act + Assess
    for (const files of versions) {
      await host.write(plain, files);
      expect(matches(await read('server.crt'), await read('server.key'))).toBe(true);
      expect((await lstat(join(placement.dir, 'server.crt'))).isFile()).toBe(true);
    }
    expect((await readdir(placement.dir)).filter((e) => e.endsWith('.tmp'))).toEqual([]);
  });
});
