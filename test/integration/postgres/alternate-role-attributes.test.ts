import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresDatabases } from '../../../shared/adapters/postgres/index.js';
import { scramSha256Verifier } from '../../../shared/domain/credentials/scram.js';
import type { DatabaseLogin } from '../../../shared/domain/inventory/model.js';
import { connectAdmin, dropRoles } from '../../fixtures/postgres.js';
import { loadInfraEnv } from '../../infra/env.js';

/**
 * `<role>_alt` (strategy alternating) is a clone of `<role>` on the real PostgreSQL of the test infrastructure: its
 * flags, connection limit and expiry are copied when it is created and brought back in step when `<role>` changed.
 * Role names are unique per run (the server is shared).
 */

const env = loadInfraEnv({ require: ['postgres'] });
const suffix = randomBytes(3).toString('hex');
const roles: string[] = [];
const role = (name: string) => {
  const r = `rk_attr_${name}_${suffix}`;
  roles.push(r, `${r}_alt`);
  return r;
};
const q = (r: string) => pg.escapeIdentifier(r);

let admin: pg.Client;

beforeAll(async () => {
  admin = await connectAdmin(env.postgres);
});
afterAll(async () => {
  await dropRoles(admin, roles);
  await admin.end();
});

const login = (r: string): DatabaseLogin => ({ engine: 'postgres', urlFrom: 'env:REKEY_IT_PG_URL', role: r, strategy: 'alternating' });
const databases = () => new PostgresDatabases({ env: { REKEY_IT_PG_URL: env.postgres.adminUrl } });

interface Attributes {
  rolcanlogin: boolean;
  rolinherit: boolean;
  rolcreatedb: boolean;
  rolcreaterole: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolsuper: boolean;
  rolconnlimit: number;
  validuntil: string | null;
}
async function attributes(r: string): Promise<Attributes> {
  const result = await admin.query<Attributes>(
    `SELECT rolcanlogin, rolinherit, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolsuper, rolconnlimit,
            rolvaliduntil::text AS validuntil FROM pg_catalog.pg_roles WHERE rolname = $1`,
    [r],
  );
  const row = result.rows[0];
  if (!row) throw new Error(`no role ${r}`);
  return row;
}
const sameAsRole = ({ rolcanlogin: _login, ...rest }: Attributes) => rest;

async function createAlternate(r: string): Promise<void> {
  const session = await databases().open(login(r));
  try {
    await session.createAlternate(r, `${r}_alt`);
  } finally {
    await session.close();
  }
}

describe('PostgreSQL: <role>_alt copies the attributes of <role>', () => {
  it('on creation: NOINHERIT, CREATEDB, CREATEROLE, CONNECTION LIMIT and VALID UNTIL, and it is a login', async () => {
    // Prepare
    const r = role('create');
    await admin.query(`CREATE ROLE ${q(r)} LOGIN NOINHERIT CREATEDB CREATEROLE CONNECTION LIMIT 7 VALID UNTIL '2031-03-04 05:06:07+00'`);
    // Act
    await createAlternate(r);
    // Assess
    const source = await attributes(r);
    const alt = await attributes(`${r}_alt`);
    expect(sameAsRole(alt)).toEqual(sameAsRole(source));
    expect(alt.rolcanlogin).toBe(true);
    expect([alt.rolinherit, alt.rolcreatedb, alt.rolcreaterole, alt.rolconnlimit]).toEqual([false, true, true, 7]);
    expect(alt.validuntil).not.toBeNull();
  });

  it('copies REPLICATION and BYPASSRLS too, and a NOLOGIN role still gets a login alternate', async () => {
    // Prepare
    const r = role('repl');
    await admin.query(`CREATE ROLE ${q(r)} NOLOGIN REPLICATION BYPASSRLS`);
    // Act
    await createAlternate(r);
    // Assess
    const alt = await attributes(`${r}_alt`);
    expect(sameAsRole(alt)).toEqual(sameAsRole(await attributes(r)));
    expect([alt.rolreplication, alt.rolbypassrls, alt.rolcanlogin]).toEqual([true, true, true]);
  });

  it('an existing alternate is brought back in step when <role> changed (limit, expiry removed, flags)', async () => {
    // Prepare
    const r = role('drift');
    await admin.query(`CREATE ROLE ${q(r)} LOGIN CONNECTION LIMIT 3 VALID UNTIL '2030-01-01 00:00:00+00'`);
    await createAlternate(r);
    await admin.query(`ALTER ROLE ${q(r)} CONNECTION LIMIT -1 VALID UNTIL 'infinity' CREATEDB NOINHERIT`);
    // Act
    await createAlternate(r);
    // Assess
    const alt = await attributes(`${r}_alt`);
    expect(sameAsRole(alt)).toEqual(sameAsRole(await attributes(r)));
    expect([alt.rolconnlimit, alt.rolcreatedb, alt.rolinherit]).toEqual([-1, true, false]);
  });

  it('the alternate with a copied connection limit still logs in, membership and SET ROLE as before', async () => {
    // Prepare
    const r = role('login');
    await admin.query(`CREATE ROLE ${q(r)} LOGIN CONNECTION LIMIT 2`);
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const session = await databases().open(login(r));
    // Act
    await session.createAlternate(r, `${r}_alt`);
    await session.setPasswordVerifier(`${r}_alt`, scramSha256Verifier(password));
    const outcome = await session.tryLogin(`${r}_alt`, password);
    await session.close();
    // Assess
    expect(outcome).toBe('accepted');
    expect((await admin.query("SELECT pg_has_role($1, $2, 'MEMBER') AS m", [`${r}_alt`, r])).rows[0].m).toBe(true);
    expect((await attributes(`${r}_alt`)).rolconnlimit).toBe(2);
  });

  it('refuses clearly when <role> does not exist', async () => {
    const r = role('missing');
    await expect(createAlternate(r)).rejects.toThrow(`role ${r} does not exist`);
  });
});
