// Smoke test of PostgreSQL (test/infra): psql connects over TLS with sslmode=verify-full,
// and new certificate files apply after the reload command (the "files + reload" flow).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInfraEnv, runReload } from '../../infra/env.js';
import { makeCa, makeCert } from '../../infra/pki.js';

const env = loadInfraEnv({ require: ['postgres'] });
const work = mkdtempSync(join(tmpdir(), 'rekey-pg-smoke-'));

function psql(rootCert: string, sql: string) {
  const url = `postgresql://${env.postgres.adminUser}@localhost:${env.postgres.port}/postgres?sslmode=verify-full&sslrootcert=${rootCert}`;
  return spawnSync('psql', [url, '-XAtc', sql], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, PGPASSWORD: env.postgres.adminPassword, PGCONNECT_TIMEOUT: '10' },
  });
}

async function restoreInitialCerts(): Promise<void> {
  const pki = join(env.postgres.initCa, '..');
  copyFileSync(join(pki, 'server.crt'), join(env.postgres.tlsDir, 'server.crt'));
  copyFileSync(join(pki, 'server.key'), join(env.postgres.tlsDir, 'server.key'));
  await runReload(env.postgres.reloadCmd);
}

afterAll(async () => {
  await restoreInitialCerts();
  rmSync(work, { recursive: true, force: true });
});

describe('PostgreSQL over TLS', () => {
  it('accepts psql with sslmode=verify-full against the initial CA', () => {
    // Prepare
    const sql = 'select ssl, version from pg_stat_ssl where pid = pg_backend_pid()';

    // Act
    const r = psql(env.postgres.initCa, sql);

    // Assess
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^t\|TLSv1\.[23]$/);
  });

  it('serves a new server certificate after the files are replaced and the reload command runs', async () => {
    // Prepare
    const ca = makeCa(work, 'ca2', 'rekey-test pg smoke CA 2');
    const server = makeCert(work, 'server2', ca, { cn: 'localhost', kind: 'server', sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    expect(psql(ca.cert, 'select 1').status).not.toBe(0); // not trusted yet

    // Act
    copyFileSync(server.cert, join(env.postgres.tlsDir, 'server.crt'));
    copyFileSync(server.key, join(env.postgres.tlsDir, 'server.key'));
    await runReload(env.postgres.reloadCmd);

    // Assess
    const withNew = psql(ca.cert, 'select 1');
    expect(withNew.stderr).toBe('');
    expect(withNew.stdout.trim()).toBe('1');
    const withOld = psql(env.postgres.initCa, 'select 1');
    expect(withOld.status).not.toBe(0);
    expect(withOld.stderr).toMatch(/certificate verify failed/);
    // the superuser can change roles
    const role = `smoke_${Date.now()}`;
    execFileSync('psql', [env.postgres.adminUrl, '-XAtc', `create role ${role} login password 'x'; drop role ${role}`], {
      encoding: 'utf8',
    });
  });
});
