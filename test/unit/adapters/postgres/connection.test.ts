import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConnection, readUrlSource, SslMode, tlsFor } from '../../../../shared/adapters/postgres/index.js';
import { isScramVerifier, scramSha256Verifier } from '../../../../shared/domain/credentials/scram.js';
import { verifierAccepts } from '../../../fixtures/fake-database.js';

const SECRET = 'S3cr3t-admin-password';

describe('urlFrom and the connection it names', () => {
  it('reads env:, file: and secretsmanager: sources', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'rekey-pgurl-'));
    writeFileSync(join(dir, 'url'), `postgresql://admin:${SECRET}@db:5433/app\n`);
    const sources = {
      env: { PG_URL: 'postgresql://a@h/d' },
      readSecret: async (n: string) => (n === 'rds/admin' ? '{"host":"h"}' : undefined),
    };
    // Act + Assess
    expect(await readUrlSource('env:PG_URL', sources)).toBe('postgresql://a@h/d');
    expect(await readUrlSource(`file:${join(dir, 'url')}`, sources)).toBe(`postgresql://admin:${SECRET}@db:5433/app`);
    expect(await readUrlSource('secretsmanager:rds/admin', sources)).toBe('{"host":"h"}');
    await expect(readUrlSource('env:MISSING', sources)).rejects.toThrow(/urlFrom env:MISSING: empty or not set/);
    await expect(readUrlSource('secretsmanager:x', { env: {} })).rejects.toThrow(/no Secrets Manager/);
  });

  it('parses a URL with sslmode and sslrootcert (the CA read from the file)', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'rekey-pgca-'));
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    // Act
    const t = await parseConnection(
      `postgresql://admin:${encodeURIComponent(SECRET + '@/')}@db.example:5433/shop?sslmode=verify-full&sslrootcert=${join(dir, 'ca.pem')}`,
      'env:X',
    );
    // Assess
    expect(t).toMatchObject({
      host: 'db.example',
      port: 5433,
      database: 'shop',
      user: 'admin',
      password: `${SECRET}@/`,
      sslMode: SslMode.VerifyFull,
    });
    expect(t.ca).toMatch(/BEGIN CERTIFICATE/);
    expect(tlsFor(t)).toEqual({ ca: t.ca, rejectUnauthorized: true });
  });

  it('parses the JSON layout RDS keeps in Secrets Manager', async () => {
    // Act
    const t = await parseConnection(
      JSON.stringify({ engine: 'postgres', host: 'rds.local', port: 6432, username: 'master', password: SECRET, dbname: 'app' }),
      'secretsmanager:rds',
    );
    // Assess
    expect(t).toMatchObject({ host: 'rds.local', port: 6432, user: 'master', password: SECRET, database: 'app', sslMode: SslMode.Prefer });
  });

  it.each([
    [SslMode.Disable, undefined, false],
    [SslMode.Prefer, undefined, { rejectUnauthorized: false }],
    [SslMode.Require, undefined, { rejectUnauthorized: false }],
    [SslMode.VerifyFull, 'CA', { ca: 'CA', rejectUnauthorized: true }],
  ] as const)('sslmode %s (CA %s) gives TLS options %j', (sslMode, ca, expected) => {
    // Act + Assess
    expect(tlsFor({ sslMode, host: 'h', ...(ca && { ca }) })).toEqual(expected);
  });

  it('verify-ca and require with a CA check the chain but not the host name', () => {
    // Act
    const verifyCa = tlsFor({ sslMode: SslMode.VerifyCa, host: 'h', ca: 'CA' });
    const require = tlsFor({ sslMode: SslMode.Require, host: 'h', ca: 'CA' });
    // Assess
    for (const o of [verifyCa, require]) {
      expect(o).toMatchObject({ ca: 'CA', rejectUnauthorized: true });
      expect(o && o.checkServerIdentity?.('other', {} as never)).toBeUndefined();
    }
  });

  it.each([
    ['not a url', /not a valid URL/],
    [`mysql://admin:${SECRET}@h/d`, /expected a postgresql:\/\/ URL/],
    [`postgresql://admin:${SECRET}@h/d?sslmode=bogus`, /sslmode "bogus" is not one of/],
    [`postgresql://:${SECRET}@h/d`, /needs a user and a host/],
    [`{"password":"${SECRET}"}`, /needs host and username/],
  ])('refuses %s, naming the problem but never the password', async (text, message) => {
    // Act
    const error = await parseConnection(text, 'env:PG').catch((e: unknown) => e as Error);
    // Assess
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(SECRET);
    expect(JSON.stringify(error)).not.toContain(SECRET);
  });
});

describe('SCRAM-SHA-256 verifier', () => {
  it("has PostgreSQL's format, is salted afresh each time, and accepts exactly its password", () => {
    // Act
    const a = scramSha256Verifier('pencil');
    const b = scramSha256Verifier('pencil');
    // Assess
    expect(isScramVerifier(a)).toBe(true);
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('pencil');
    expect(verifierAccepts(a, 'pencil')).toBe(true);
    expect(verifierAccepts(a, 'pencil2')).toBe(false);
  });

  it('matches RFC 7677\'s example (user "user", password "pencil")', () => {
    // Act: RFC 7677 section 3 uses salt W22ZaJ0SNY7soEsUEjb6gQ== and 4096 iterations
    const v = scramSha256Verifier('pencil', { salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64') });
    // Assess: the ServerSignature of the RFC's exchange follows from ServerKey and the auth message
    const serverKey = Buffer.from(v.split(':').at(-1)!, 'base64');
    const auth =
      'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    expect(createHmac('sha256', serverKey).update(auth).digest('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('refuses to be mistaken for a clear password: only verifiers pass isScramVerifier', () => {
    // Act + Assess
    expect(isScramVerifier('pencil')).toBe(false);
    expect(isScramVerifier("x' ; DROP ROLE app; --")).toBe(false);
    expect(isScramVerifier('md5abcdef')).toBe(false);
  });
});
