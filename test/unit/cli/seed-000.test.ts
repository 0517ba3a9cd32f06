import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMain } from '../../fixtures/cli.js';
import { dataOf, readManifest } from '../../fixtures/manifests.js';
import { openssl, run } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

/**
 * Seed 000 (PostgreSQL Operator API TLS) with examples/pgo.yaml: `pgo.tls` is generated only if missing and
 * kept (taken over) when a valid one is already there; the client gets PGO_CA_CERT, PGO_CLIENT_CERT and
 * PGO_CLIENT_KEY from `rekey export`, and a real TLS client connects with them.
 */

const PGO = join(REPO_ROOT, 'examples', 'pgo.yaml');
const NO_ENV = { REKEY_VAULT_KEY: undefined, REKEY_STATE: undefined, KUBECONFIG: undefined };
const SAN = 'subjectAltName=DNS:postgres-operator,DNS:postgres-operator.pgo.svc,DNS:localhost,IP:127.0.0.1';

let root: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-seed000-');
});
afterAll(() => removeTempDir(root));

interface Existing {
  readonly cert: string;
  readonly key: string;
}

/** A certificate and key made by openssl, as an operator's installer would have left them. */
function opensslCert(dir: string, kind: 'valid' | 'expired' | 'mismatched' | 'due'): Existing {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, 'k.pem');
  const cert = join(dir, 'c.pem');
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  if (kind === 'expired') {
    // openssl req refuses negative days: sign with `openssl ca` and explicit past dates
    writeFileSync(
      join(dir, 'ca.cnf'),
      '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n[p]\ncommonName = supplied\n',
    );
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '01\n');
    expect(
      openssl(['req', '-new', ...newKey, '-keyout', key, '-out', join(dir, 'csr.pem'), '-subj', '/CN=postgres-operator', '-addext', SAN])
        .status,
    ).toBe(0);
    const signed = openssl(
      [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-selfsign',
        '-keyfile',
        key,
        '-in',
        'csr.pem',
        '-out',
        cert,
        '-startdate',
        '20200101000000Z',
        '-enddate',
        '20200201000000Z',
      ],
      { cwd: dir },
    );
    expect(signed.status, signed.stderr).toBe(0);
  } else {
    const made = openssl([
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=postgres-operator',
      '-days',
      kind === 'due' ? '10' : '365',
      '-addext',
      SAN,
    ]);
    expect(made.status, made.stderr).toBe(0);
  }
  let keyPem = readFileSync(key, 'utf8');
  if (kind === 'mismatched') {
    expect(openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'other.pem')]).status).toBe(0);
    keyPem = readFileSync(join(dir, 'other.pem'), 'utf8');
  }
  return { cert: readFileSync(cert, 'utf8'), key: keyPem };
}

/** Places `pgo.tls` in `--out DIR` as a Secret rekey did not write (no managed-by label). */
function placeUnmanaged(out: string, existing: Existing): string {
  const dir = join(out, 'default', 'pgo');
  mkdirSync(dir, { recursive: true });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const file = join(dir, 'pgo.tls.yaml');
  writeFileSync(
    file,
    dump({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'pgo.tls', namespace: 'pgo', labels: { app: 'pgo' } },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(existing.cert), 'tls.key': b64(existing.key), 'ca.crt': b64(existing.cert) },
    }),
  );
  return file;
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

async function scenario(name: string, kind: 'valid' | 'expired' | 'mismatched' | 'due') {
  const dir = join(root, name);
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const existing = opensslCert(join(dir, 'openssl'), kind);
  const file = placeUnmanaged(out, existing);
  const before = readFileSync(file, 'utf8');
  const apply = await runMain(['apply', '-f', PGO, '--out', out, '--state', state], NO_ENV);
  return { dir, out, state, existing, file, before, apply };
}

describe('seed 000: pgo.tls kept if present and valid, generated otherwise', () => {
  it('keeps a valid existing pgo.tls byte for byte (stored as the current version, the Secret not rewritten)', async () => {
    // Prepare + Act
    const s = await scenario('valid', 'valid');
    // Assess
    expect(s.apply.code, s.apply.stderr).toBe(0);
    expect(s.apply.stdout).toMatch(/adopt\s+certificate\s+postgres-operator\s+SecretAdopted/);
    expect(s.apply.stdout).toMatch(/0 created, 0 updated, 1 unchanged/);
    expect(readFileSync(s.file, 'utf8')).toBe(s.before);
    const m = readManifest(s.file);
    const d = dataOf(m);
    expect(m.metadata.labels?.['app.kubernetes.io/managed-by']).toBeUndefined();
    expect(fingerprint(d['tls.crt']!)).toBe(fingerprint(s.existing.cert));
    expect(new X509Certificate(d['tls.crt']!).checkPrivateKey(createPrivateKey(s.existing.key))).toBe(true);
    const status = await runMain(['--json', 'status', '-f', PGO, '--state', s.state], NO_ENV);
    const row = (JSON.parse(status.stdout) as { items: Array<{ name: string; adopted?: boolean; fingerprint?: string }> }).items.find(
      (i) => i.name === 'postgres-operator',
    )!;
    expect(row.adopted).toBe(true);
    expect(row.fingerprint).toBe(fingerprint(s.existing.cert).replace(/:/g, '').toLowerCase());
    // and it stays kept: nothing to do the next time
    const again = await runMain(['apply', '-f', PGO, '--out', s.out, '--state', s.state], NO_ENV);
    expect(again.stdout).toMatch(/0 version\(s\) made/);
    expect(again.stdout).toMatch(/0 created, 0 updated, 1 unchanged/);
    expect(fingerprint(dataOf(readManifest(s.file))['tls.crt']!)).toBe(fingerprint(s.existing.cert));
  });

  it.each([
    ['expired', 'expired' as const, /expires 2020-02-01T00:00:00.000Z, within renewBefore/],
    ['due for renewal (10 days left, renewBefore 720h)', 'due' as const, /within renewBefore/],
    ['whose key does not match', 'mismatched' as const, /tls.key does not match tls.crt/],
  ])('replaces an existing pgo.tls %s with a certificate issued by pgo-ca', async (_label, kind, why) => {
    // Prepare + Act
    const s = await scenario(kind, kind);
    // Assess
    expect(s.apply.code, s.apply.stderr).toBe(0);
    expect(s.apply.stdout).toMatch(/issue\s+certificate\s+postgres-operator\s+NeverIssued \(existing Secret not kept: /);
    expect(s.apply.stdout).toMatch(why);
    const d = dataOf(readManifest(s.file));
    const leaf = new X509Certificate(d['tls.crt']!);
    expect(leaf.fingerprint256).not.toBe(fingerprint(s.existing.cert));
    expect(leaf.issuer).toBe('CN=pgo-ca');
    expect(leaf.checkIssued(new X509Certificate(d['ca.crt']!))).toBe(true);
  });
});

describe('seed 000: a client connects with what export gives it', () => {
  let exportDir: string;
  let env: Record<string, string>;
  let state: string;

  beforeAll(async () => {
    // A fresh install: nothing there, so rekey generates pgo.tls
    const dir = join(root, 'client');
    state = join(dir, 'state');
    const applied = await runMain(['apply', '-f', PGO, '--out', join(dir, 'out'), '--state', state], NO_ENV);
    expect(applied.code, applied.stderr).toBe(0);
    exportDir = join(dir, 'export');
    const exported = await runMain(
      ['export', 'postgres-operator', '-f', PGO, '--format', 'env', '--prefix', 'PGO', '--dir', exportDir, '--state', state],
      NO_ENV,
    );
    expect(exported.code, exported.stderr).toBe(0);
    env = Object.fromEntries(
      exported.stdout
        .trim()
        .split('\n')
        .map((l) => /^export (\w+)=(.*)$/.exec(l)!.slice(1, 3) as [string, string]),
    );
  });

  it('export --format env --prefix PGO prints the three exports and writes the files (key 0600)', () => {
    expect(Object.keys(env)).toEqual(['PGO_CA_CERT', 'PGO_CLIENT_CERT', 'PGO_CLIENT_KEY']);
    expect(env).toEqual({
      PGO_CA_CERT: join(exportDir, 'ca.crt'),
      PGO_CLIENT_CERT: join(exportDir, 'tls.crt'),
      PGO_CLIENT_KEY: join(exportDir, 'tls.key'),
    });
    expect(readFileSync(env.PGO_CLIENT_KEY!, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(statSync(env.PGO_CLIENT_KEY!).mode & 0o777).toBe(0o600);
    expect(new X509Certificate(readFileSync(env.PGO_CLIENT_CERT!)).subject).toBe('CN=postgres-operator');
  });

  it('curl with PGO_CA_CERT, PGO_CLIENT_CERT and PGO_CLIENT_KEY completes a mutual-TLS handshake; without a client certificate it is refused', async () => {
    // Prepare: a server presenting the same certificate and demanding a client certificate from the same CA
    const seen: Array<{ authorized: boolean; peer: PeerCertificate | undefined }> = [];
    const server = createServer(
      {
        cert: readFileSync(env.PGO_CLIENT_CERT!),
        key: readFileSync(env.PGO_CLIENT_KEY!),
        ca: readFileSync(env.PGO_CA_CERT!),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket: TLSSocket) => {
        const peer = socket.getPeerCertificate();
        seen.push({ authorized: socket.authorized, peer });
        socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello ${String(peer.subject.CN)}\n`);
      },
    );
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      // Act
      const withCert = await run('curl', [
        '-sS',
        '--max-time',
        '10',
        '--cacert',
        env.PGO_CA_CERT!,
        '--cert',
        env.PGO_CLIENT_CERT!,
        '--key',
        env.PGO_CLIENT_KEY!,
        `https://127.0.0.1:${port}/`,
      ]);
      const byName = await run('curl', [
        '-sS',
        '--max-time',
        '10',
        '--cacert',
        env.PGO_CA_CERT!,
        '--cert',
        env.PGO_CLIENT_CERT!,
        '--key',
        env.PGO_CLIENT_KEY!,
        '--resolve',
        `localhost:${port}:127.0.0.1`,
        `https://localhost:${port}/`,
      ]);
      const sClient = await run(
        'sh',
        [
          '-c',
          `openssl s_client -connect 127.0.0.1:${port} -CAfile "$PGO_CA_CERT" -cert "$PGO_CLIENT_CERT" -key "$PGO_CLIENT_KEY" -verify_return_error -verify_ip 127.0.0.1 </dev/null`,
        ],
        { env: { ...process.env, ...env } },
      );
      const withoutCert = await run('curl', ['-sS', '--max-time', '10', '--cacert', env.PGO_CA_CERT!, `https://127.0.0.1:${port}/`]);
      // Assess
      expect(withCert.status, withCert.stderr).toBe(0);
      expect(withCert.stdout).toBe('hello postgres-operator\n');
      expect(byName.status, byName.stderr).toBe(0);
      expect(withoutCert.status).not.toBe(0);
      expect(withoutCert.stderr).toMatch(/certificate required/);
      expect(sClient.stdout).toMatch(/Verify return code: 0 \(ok\)/);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(seen.every((s) => s.authorized && s.peer?.subject?.CN === 'postgres-operator')).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy(); // a refused handshake may leave its socket half-open
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('export --format p12 --password-env writes a PKCS#12 that openssl opens with that password', async () => {
    // Act
    const r = await runMain(
      [
        'export',
        'postgres-operator',
        '-f',
        PGO,
        '--format',
        'p12',
        '--password-env',
        'PGO_P12_PASSWORD',
        '--dir',
        exportDir,
        '--state',
        state,
      ],
      { ...NO_ENV, PGO_P12_PASSWORD: 'pa55 w0rd!' },
    );
    const path = r.stdout.trim();
    const opened = await run('openssl', ['pkcs12', '-info', '-in', path, '-passin', 'env:PGO_P12_PASSWORD', '-nodes'], {
      env: { ...process.env, PGO_P12_PASSWORD: 'pa55 w0rd!' },
    });
    const wrong = await run('openssl', ['pkcs12', '-in', path, '-passin', 'pass:wrong', '-nodes']);
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(path).toBe(join(exportDir, 'postgres-operator.p12'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(opened.status, opened.stderr).toBe(0);
    expect(opened.stdout).toMatch(/-----BEGIN PRIVATE KEY-----/);
    expect(opened.stdout).toMatch(/subject=CN = postgres-operator/);
    expect(wrong.status).not.toBe(0);
    // and the password is not printed
    expect(r.stdout + r.stderr).not.toContain('pa55 w0rd!');
  });

  it('p12 without --password-env, or with an unset variable, is a usage error', async () => {
    const missing = await runMain(
      ['export', 'postgres-operator', '-f', PGO, '--format', 'p12', '--dir', exportDir, '--state', state],
      NO_ENV,
    );
    const unset = await runMain(
      [
        'export',
        'postgres-operator',
        '-f',
        PGO,
        '--format',
        'p12',
        '--password-env',
        'REKEY_TEST_UNSET',
        '--dir',
        exportDir,
        '--state',
        state,
      ],
      { ...NO_ENV, REKEY_TEST_UNSET: undefined },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/password/);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/REKEY_TEST_UNSET/);
  });
});
