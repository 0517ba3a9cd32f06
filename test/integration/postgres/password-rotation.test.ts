import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresDatabases } from '../../../shared/adapters/postgres/index.js';
import { scramSha256Verifier } from '../../../shared/domain/credentials/scram.js';
import type { DatabaseLogin } from '../../../shared/domain/inventory/model.js';
import { DatabaseError, LoginOutcome } from '../../../shared/ports/database.js';
import { runMain } from '../../fixtures/cli.js';
import { canLogIn as canRoleLogIn, connectAdmin, dropRoles, loginAs as loginAsRole } from '../../fixtures/postgres.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { loadInfraEnv } from '../../infra/env.js';
import { makeCa } from '../../infra/pki.js';

/**
 * The PostgreSQL adapter and the password machine against the test infrastructure's real PostgreSQL (TLS only,
 * scram-sha-256): verifiers computed by rekey are what the server stores and accepts; `rekey apply` and
 * `rekey rotate` set passwords (single: the old one is refused; alternating: the previous login keeps working),
 * and no password reaches the output, the events or the journal. Roles are unique per run (the server is shared).
 */

const env = loadInfraEnv({ require: ['postgres'] });
const suffix = randomBytes(3).toString('hex');
const roles: string[] = [];
const role = (name: string) => {
  const r = `rk_${name}_${suffix}`;
  roles.push(r, `${r}_alt`);
  return r;
};

let admin: pg.Client;
let root: string;

const adminUrl = env.postgres.adminUrl;
const loginAs = (user: string, password: string) => loginAsRole(env.postgres, user, password);
const canLogIn = (user: string, password: string) => canRoleLogIn(env.postgres, user, password);

beforeAll(async () => {
  admin = await connectAdmin(env.postgres);
  root = await makeTempDir('rekey-pg-it-');
});
afterAll(async () => {
  await dropRoles(admin, roles);
  await admin.end();
  await removeTempDir(root);
});

const login = (r: string, urlFrom = 'env:REKEY_IT_PG_URL'): DatabaseLogin => ({ engine: 'postgres', urlFrom, role: r, strategy: 'single' });
const databases = (url = adminUrl) => new PostgresDatabases({ env: { REKEY_IT_PG_URL: url } });

describe('PostgreSQL adapter', () => {
  it('sets a password as a client-side SCRAM verifier: the server stores exactly it, and the password logs in', async () => {
    // Prepare
    const r = role('verifier');
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(r)} LOGIN`);
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const verifier = scramSha256Verifier(password);
    const session = await databases().open(login(r));
    // Act
    await session.setPasswordVerifier(r, verifier);
    const accepted = await session.tryLogin(r, password);
    const refused = await session.tryLogin(r, `${password}-wrong`);
    await session.close();
    // Assess
    const stored = await admin.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [r]);
    expect(stored.rows[0].rolpassword).toBe(verifier);
    expect([accepted, refused]).toEqual([LoginOutcome.Accepted, LoginOutcome.Refused]);
    expect(await loginAs(r, password)).toBe(r);
  });

  it('creates the alternate login as a member of the role that acts as the role, idempotently', async () => {
    // Prepare
    const r = role('alt');
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(r)} LOGIN`);
    const alt = `${r}_alt`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const session = await databases().open(login(r));
    // Act
    await session.createAlternate(r, alt);
    await session.createAlternate(r, alt);
    await session.setPasswordVerifier(alt, scramSha256Verifier(password));
    await session.close();
    // Assess: a member of the role, and its sessions run as the role (objects it creates belong to the role)
    const member = await admin.query("SELECT pg_has_role($1, $2, 'MEMBER') AS m", [alt, r]);
    expect(member.rows[0].m).toBe(true);
    expect(await loginAs(alt, password)).toBe(r);
  });

  it("honours sslmode: verify-full against the server's CA connects, another CA is refused, disable is refused by the server", async () => {
    // Prepare
    const base = `postgresql://${env.postgres.adminUser}:${encodeURIComponent(env.postgres.adminPassword)}@localhost:${env.postgres.port}/postgres`;
    const other = makeCa(root, 'other-ca', 'rekey-it other CA');
    const r = role('tls');
    // Act
    const full = await (
      await databases(`${base}?sslmode=verify-full&sslrootcert=${env.postgres.initCa}`).open(login(r))
    ).roleExists(env.postgres.adminUser);
    const wrongCa = await (
      await databases(`${base}?sslmode=verify-full&sslrootcert=${other.cert}`).open(login(r))
    )
      .roleExists('postgres')
      .catch((e: unknown) => e);
    const plain = await (await databases(`${base}?sslmode=disable`).open(login(r))).roleExists('postgres').catch((e: unknown) => e);
    // Assess
    expect(full).toBe(true);
    expect(wrongCa).toBeInstanceOf(DatabaseError);
    expect(String(wrongCa)).toMatch(/admin connection failed.*(certificate|self.signed|issuer)/i);
    expect(plain).toBeInstanceOf(DatabaseError);
    expect(String(plain)).toMatch(/no pg_hba.conf entry|SSL/i);
    for (const e of [wrongCa, plain]) expect(String(e)).not.toContain(env.postgres.adminPassword);
  });
});

const inventory = (r: string, strategy: 'single' | 'alternating', ns: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: pgit}
clusters: [{name: dc1}]
credentials:
  - name: app-db
    type: password
    secret: {name: app-db, namespace: ${ns}}
    database: {engine: postgres, urlFrom: "env:REKEY_IT_PG_URL", role: ${r}, strategy: ${strategy}, host: localhost, port: ${env.postgres.port}, dbname: postgres}
`;

/** The Secret `rekey --out` rendered. */
async function renderedSecret(out: string, ns: string): Promise<Record<string, string>> {
  const doc = load(await readFile(join(out, 'dc1', ns, 'app-db.yaml'), 'utf8')) as {
    data?: Record<string, string>;
    stringData?: Record<string, string>;
  };
  if (doc.stringData) return doc.stringData;
  return Object.fromEntries(Object.entries(doc.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** Everything rekey wrote outside the vault and the rendered Secret: events and journal. */
async function observable(state: string): Promise<string> {
  const journal = await readdir(join(state, 'journal')).catch(() => []);
  const texts = await Promise.all(journal.map((f) => readFile(join(state, 'journal', f), 'utf8').catch(() => '')));
  return [await readFile(join(state, 'events.jsonl'), 'utf8').catch(() => ''), ...texts].join('\n');
}

describe.each(['single', 'alternating'] as const)('rekey apply + rotate on real PostgreSQL, strategy %s', (strategy) => {
  it('sets the first password, rotates it, and the Secret logs in; passwords never appear in output, events or journal', async () => {
    // Prepare
    const r = role(`cli_${strategy}`);
    await admin.query(
      `CREATE ROLE ${pg.escapeIdentifier(r)} LOGIN PASSWORD ${pg.escapeLiteral(`unknown-${randomBytes(8).toString('hex')}`)}`,
    );
    const dir = await makeTempDir('rekey-pg-cli-');
    const file = join(dir, 'inventory.yaml');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, inventory(r, strategy, 'shop'));
    const state = join(dir, 'state');
    const out = join(dir, 'out');
    const cliEnv = { REKEY_IT_PG_URL: adminUrl };
    // Act
    const applied = await runMain(['--state', state, '--json', 'apply', '-f', file, '--out', out], cliEnv);
    const first = await renderedSecret(out, 'shop');
    const rotated = await runMain(['--state', state, '--json', 'rotate', 'app-db', '-f', file, '--out', out], cliEnv);
    const second = await renderedSecret(out, 'shop');
    const text = await runMain(['--state', state, 'rotate', 'app-db', '-f', file, '--out', out], cliEnv);
    const third = await renderedSecret(out, 'shop');
    // Assess
    expect([applied.code, rotated.code, text.code], applied.stderr + rotated.stderr + text.stderr).toEqual([0, 0, 0]);
    expect(JSON.parse(rotated.stdout).rotation.status).toBe('completed');
    expect(second.password).not.toBe(first.password);
    expect(second.uri).toBe(
      `postgresql://${second.username}:${encodeURIComponent(second.password!)}@localhost:${env.postgres.port}/postgres`,
    );
    expect(await canLogIn(third.username!, third.password!)).toBe(true);
    if (strategy === 'single') {
      expect([first.username, second.username, third.username]).toEqual([r, r, r]);
      expect(await canLogIn(r, second.password!)).toBe(false);
      expect(await canLogIn(r, first.password!)).toBe(false);
    } else {
      expect([first.username, second.username, third.username]).toEqual([r, `${r}_alt`, r]);
      // the previous login still works until the next rotation
      expect(await canLogIn(`${r}_alt`, second.password!)).toBe(true);
      expect(await canLogIn(r, first.password!)).toBe(false);
    }
    const seen = [applied.stdout, applied.stderr, rotated.stdout, rotated.stderr, text.stdout, text.stderr, await observable(state)].join(
      '\n',
    );
    for (const p of [first.password!, second.password!, third.password!]) expect(seen.includes(p), 'a password leaked').toBe(false);
    await removeTempDir(dir);
  });
});

describe('a failed password rotation on real PostgreSQL', () => {
  it('when the role cannot be altered, the rotation fails, says why, and the old password still logs in', async () => {
    // Prepare: an admin URL for a login without the right to alter roles
    const r = role('fail');
    const weak = role('weak');
    const weakPassword = `weak-${randomBytes(8).toString('hex')}`;
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(weak)} LOGIN PASSWORD ${pg.escapeLiteral(weakPassword)}`);
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(r)} LOGIN`);
    const dir = await makeTempDir('rekey-pg-fail-');
    const file = join(dir, 'inventory.yaml');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, inventory(r, 'single', 'shop'));
    const state = join(dir, 'state');
    const out = join(dir, 'out');
    const applied = await runMain(['--state', state, 'apply', '-f', file, '--out', out], { REKEY_IT_PG_URL: adminUrl });
    const before = await renderedSecret(out, 'shop');
    const weakUrl = `postgresql://${weak}:${weakPassword}@localhost:${env.postgres.port}/postgres?sslmode=require`;
    // Act
    const rotated = await runMain(['--state', state, '--json', 'rotate', 'app-db', '-f', file, '--out', out], { REKEY_IT_PG_URL: weakUrl });
    // Assess
    expect(applied.code).toBe(0);
    expect(rotated.code).toBe(1);
    const rotation = JSON.parse(rotated.stdout).rotation as { status: string; error: string; step: string };
    expect(rotation.status).toBe('failed');
    expect(rotation.step).toBe('set-in-database');
    expect(rotation.error).toMatch(/permission denied|must have CREATEROLE|not allowed/i);
    expect(await canLogIn(r, before.password!)).toBe(true);
    expect((await renderedSecret(out, 'shop')).password).toBe(before.password);
    expect([rotated.stdout, rotated.stderr, await observable(state)].join('\n')).not.toContain(before.password!);
    expect(rotated.stdout + rotated.stderr).not.toContain(weakPassword);
    await removeTempDir(dir);
  });
});
