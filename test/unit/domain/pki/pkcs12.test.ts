import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { issueMaterial, type IssuerMaterial } from '../../../../shared/domain/pki/issue.js';
import { privateKeyFromPem } from '../../../../shared/domain/pki/keys.js';
import { buildPkcs12 } from '../../../../shared/domain/pki/pkcs12.js';
import type { CertificateMaterial } from '../../../../shared/domain/store/material.js';
import { specHashOf } from '../../../../shared/domain/units.js';
import { openssl, pemFile } from '../../../fixtures/openssl.js';
import { issueAuthorities, pkiInventory, unitOf } from '../../../fixtures/pki.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const NOW = new Date();
let dir: string;
let inventory: Inventory;
let cas: { root: IssuerMaterial; inter: IssuerMaterial };
const leaves = new Map<string, CertificateMaterial>();

beforeAll(async () => {
  dir = await makeTempDir('rekey-p12-');
  inventory = pkiInventory();
  cas = issueAuthorities(inventory, NOW);
  // web: RSA-2048, client: ECDSA-P256, both: Ed25519
  for (const name of ['web', 'client', 'both']) {
    const unit = unitOf(inventory, name);
    leaves.set(name, issueMaterial(unit, name === 'both' ? cas.root : cas.inter, NOW, specHashOf(unit)));
  }
});
afterAll(() => removeTempDir(dir));

const PASSWORD = 'correct horse battery staple';

describe('buildPkcs12', () => {
  it.each([
    ['RSA', 'web'],
    ['ECDSA', 'client'],
    ['Ed25519', 'both'],
  ])('a %s key and its chain open with openssl pkcs12 and the password; the key matches the certificate', (_label, name) => {
    // Prepare
    const m = leaves.get(name)!;
    const p12 = buildPkcs12({ key: privateKeyFromPem(m.key), certificatesPem: m.cert + m.chain, password: PASSWORD, friendlyName: name });
    const file = join(dir, `${name}.p12`);
    writeFileSync(file, p12);
    // Act
    const info = openssl(['pkcs12', '-info', '-in', file, '-passin', `pass:${PASSWORD}`, '-nodes']);
    const keyFile = pemFile(
      dir,
      `${name}-from-p12.key`,
      /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n/.exec(info.stdout)?.[0] ?? '',
    );
    const certFile = pemFile(
      dir,
      `${name}-from-p12.crt`,
      /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/.exec(info.stdout)?.[0] ?? '',
    );
    const fromKey = openssl(['pkey', '-in', keyFile, '-pubout']);
    const fromCert = openssl(['x509', '-in', certFile, '-noout', '-pubkey']);
    // Assess
    expect(info.status, info.stderr).toBe(0);
    expect(info.stderr).toMatch(/MAC: sha256, Iteration 2048/);
    expect(info.stderr).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    expect(info.stdout).toMatch(new RegExp(`friendlyName: ${name}`));
    expect((info.stdout.match(/BEGIN CERTIFICATE/g) ?? []).length).toBe(m.chain ? 2 : 1);
    expect(fromKey.status).toBe(0);
    expect(fromKey.stdout).toBe(fromCert.stdout);
    expect(
      certFile &&
        openssl(['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'])
          .stdout.replace(/[^0-9A-F]/gi, '')
          .toLowerCase(),
    ).toContain(m.fingerprint);
  });

  it('a wrong password fails the MAC check', () => {
    // Prepare
    const m = leaves.get('client')!;
    const file = join(dir, 'wrong.p12');
    writeFileSync(file, buildPkcs12({ key: privateKeyFromPem(m.key), certificatesPem: m.cert, password: PASSWORD }));
    // Act
    const r = openssl(['pkcs12', '-info', '-in', file, '-passin', 'pass:not the password', '-nodes']);
    // Assess
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Mac verify error|invalid password/i);
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
  });

  it('the key inside is encrypted: its secret bytes do not appear in the file', () => {
    // Prepare
    const m = leaves.get('both')!;
    const p12 = buildPkcs12({ key: privateKeyFromPem(m.key), certificatesPem: m.cert, password: PASSWORD });
    // Act
    const raw = Buffer.from(m.key.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    // Assess: the 32-byte Ed25519 seed (the last bytes of the PKCS#8) does not appear in the file
    expect(p12.includes(raw.subarray(raw.length - 32))).toBe(false);
  });
});
