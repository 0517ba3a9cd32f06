// Zero failed requests during a CA rotation with real servers (issue 10): a real Apache (mod_ssl, mTLS with
// `SSLVerifyClient require`, proxying /diagnose to the infrastructure's backend, as the seed 004 proxy) and a real
// PostgreSQL (`hostssl ... cert`: client certificate required and mapped to the role by CN, which is
// clientcert=verify-full) read their certificates, keys and CA bundle from host files rekey writes (`files` targets
// whose reload is a graceful restart / pg_ctl reload). Client loops run throughout the rotation of the CA that signs
// the servers' and the client's certificates: curl with the client certificate, and psql with
// sslmode=verify-full and the client certificate; every request is counted, every failure kept.
//
// Both servers are private instances of the infrastructure's Apache and PostgreSQL binaries (own ports, own
// folders), started by this test: the shared proxy's and database's certificate folders belong to other tests.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlsProber } from '../../shared/adapters/probe/index.js';
import { StartTls } from '../../shared/ports/prober.js';
import { runMain } from '../fixtures/cli.js';
import { freePort, privateApache, type PrivateApache } from '../fixtures/private-apache.js';
import { loadInfraEnv } from '../infra/env.js';

const env = loadInfraEnv({ require: ['proxy', 'postgres'] });
const root = process.getuid?.() === 0;
const PG_BIN = env.postgres.binDir;

const work = mkdtempSync(join(tmpdir(), 'rekey-live-ca-'));
chmodSync(work, 0o755); // the postgres user must reach its folders
const dirs = {
  state: join(work, 'state'),
  trust: join(work, 'trust'),
  apache: join(work, 'apache'),
  apacheTls: join(work, 'apache', 'tls'),
  pg: join(work, 'pg'),
  pgTls: join(work, 'pg', 'tls'),
  pgData: join(work, 'pg', 'data'),
  pgSock: join(work, 'pg', 'sock'),
  clients: join(work, 'clients'),
};
const inventoryFile = join(work, 'inventory.yaml');
const stopFile = join(work, 'stop');
const asPg = (cmd: string[]): string[] => (root ? ['runuser', '-u', 'postgres', '--', ...cmd] : cmd);
/** Runs a PostgreSQL binary as the user the server runs as (PostgreSQL refuses root). */
function runAsPg(binary: string, args: string[]): void {
  const [file, ...rest] = asPg([`${PG_BIN}/${binary}`, ...args]);
  execFileSync(file!, rest, { stdio: 'ignore' });
}

let apache: PrivateApache | undefined;
let apachePort = 0;
let pgPort = 0;

// Reloads as the inventory runs them: start the server the first time (no files before the first apply), then a
// graceful restart (Apache, the fixture's reload script) or pg_ctl reload (PostgreSQL re-reads ssl_* files on SIGHUP,
// keeping connections).
const pgReload = () => `set -e
${root ? `chown -R postgres: ${dirs.pgTls}` : ':'}
chmod 600 ${dirs.pgTls}/server.key
PGCTL="${asPg([`${PG_BIN}/pg_ctl`, '-D', dirs.pgData]).join(' ')}"
if $PGCTL status >/dev/null 2>&1; then
  $PGCTL reload >/dev/null; sleep 0.5
else
  $PGCTL -l ${dirs.pg}/postgres.log -w -t 60 start >/dev/null
fi
`;
const bothReload = `bash ${join(work, 'apache-reload.sh')} && bash ${join(work, 'pg-reload.sh')}`;

const inventory = () => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: live-ca}
defaults: {key: ECDSA-P256, validity: 2160h, renewBefore: 720h}
authorities:
  - name: live-ca
    commonName: live CA
    validity: 87600h
    files: {dir: ${dirs.trust}, cert: ca.crt, mode: "0644", reload: "${bothReload}", reloadTimeout: 60s}
certificates:
  - name: proxy-server
    issuer: live-ca
    usage: server
    commonName: localhost
    dnsNames: [localhost]
    ipAddresses: [127.0.0.1]
    files: {dir: ${dirs.apacheTls}, cert: server.crt, key: server.key, mode: "0600", reload: "bash ${join(work, 'apache-reload.sh')}", reloadTimeout: 60s}
  - name: pg-server
    issuer: live-ca
    usage: server
    commonName: localhost
    dnsNames: [localhost]
    ipAddresses: [127.0.0.1]
    files: {dir: ${dirs.pgTls}, cert: server.crt, key: server.key, mode: "0600", reload: "bash ${join(work, 'pg-reload.sh')}", reloadTimeout: 60s}
  - name: live-client
    issuer: live-ca
    usage: client
    commonName: live_client
    files: {dir: ${dirs.clients}, cert: client.crt, key: client.key, ca: root.crt, mode: "0600"}
  - name: live-client-p384
    issuer: live-ca
    usage: client
    key: ECDSA-P384
    commonName: live_client
    files: {dir: ${dirs.clients}, cert: p384.crt, key: p384.key, mode: "0600"}
`;

const rekey = (...args: string[]) => runMain([...args, '-f', inventoryFile, '--state', dirs.state]);

const c = (f: string) => join(dirs.clients, f);
const curlLoop = () => `n=0
while [ ! -f ${stopFile} ]; do
  if out=$(curl -sS --max-time 10 --cacert ${c('root.crt')} --cert ${c('client.crt')} --key ${c('client.key')} https://localhost:${apachePort}/diagnose 2>&1) && echo "$out" | grep -q '"clientVerify":"SUCCESS"'; then echo ok; else echo "fail $(date +%T.%N) $(echo "$out" | tr '\\n' ' ')"; fi
done`;
const psqlLoop = () => `while [ ! -f ${stopFile} ]; do
  if out=$(psql "host=localhost port=${pgPort} dbname=postgres user=live_client sslmode=verify-full sslrootcert=${c('root.crt')} sslcert=${c('client.crt')} sslkey=${c('client.key')} connect_timeout=10" -XAtc 'select 1' 2>&1) && [ "$out" = 1 ]; then echo ok; else echo "fail $(date +%T.%N) $(echo "$out" | tr '\\n' ' ')"; fi
done`;

interface Loop {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  readonly done: Promise<void>;
}
function startLoop(name: string, script: string): Loop {
  const log = join(work, `${name}.log`);
  writeFileSync(log, '');
  const child = spawn('bash', ['-c', `${script} >> ${log} 2>&1`], { stdio: 'ignore' });
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { name, child, log, done };
}
const results = (l: Loop) => {
  const lines = readFileSync(l.log, 'utf8').split('\n').filter(Boolean);
  return { requests: lines.length, failures: lines.filter((x) => x !== 'ok') };
};

/** The first certificate a server presents (openssl s_client, STARTTLS for PostgreSQL). */
function served(port: number, startTls?: 'postgres'): X509Certificate {
  const args = [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    ...(startTls ? ['-starttls', startTls] : []),
    '-cert',
    c('client.crt'),
    '-key',
    c('client.key'),
  ];
  let out: string;
  try {
    out = execFileSync('openssl', args, { input: '', encoding: 'utf8', timeout: 30_000, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    out = (e as { stdout?: string }).stdout ?? '';
  }
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)?.[0];
  if (!pem) throw new Error(`port ${port} served no certificate`);
  return new X509Certificate(pem);
}
const caOf = (file: string): X509Certificate[] =>
  (readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (p) => new X509Certificate(p),
  );

beforeAll(async () => {
  pgPort = await freePort();
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  chmodSync(dirs.trust, 0o755);
  apache = await privateApache(
    dirs.apache,
    { cert: join(dirs.apacheTls, 'server.crt'), key: join(dirs.apacheTls, 'server.key'), ca: join(dirs.trust, 'ca.crt') },
    env.proxy.backendUrl,
  );
  apachePort = apache.port;
  writeFileSync(join(work, 'apache-reload.sh'), `exec bash ${apache.reloadScript}\n`);
  writeFileSync(join(work, 'pg-reload.sh'), pgReload());
  if (root) execFileSync('chown', ['-R', 'postgres:', dirs.pg]);
  rmSync(dirs.pgData, { recursive: true, force: true });
  mkdirSync(dirs.pgData);
  if (root) execFileSync('chown', ['postgres:', dirs.pgData]);
  runAsPg('initdb', ['-D', dirs.pgData, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const conf = `listen_addresses = '127.0.0.1'
port = ${pgPort}
unix_socket_directories = '${dirs.pgSock}'
ssl = on
ssl_cert_file = '${dirs.pgTls}/server.crt'
ssl_key_file = '${dirs.pgTls}/server.key'
ssl_ca_file = '${dirs.trust}/ca.crt'
shared_buffers = 16MB
max_connections = 40
fsync = off
`;
  writeFileSync(join(work, 'pg.conf'), conf);
  execFileSync('sh', [
    '-c',
    `cat ${join(work, 'pg.conf')} >> ${dirs.pgData}/postgresql.conf && printf 'local all all trust\\nhostssl all all 127.0.0.1/32 cert\\nhostssl all all ::1/128 cert\\n' > ${dirs.pgData}/pg_hba.conf${root ? ` && chown postgres: ${dirs.pgData}/postgresql.conf ${dirs.pgData}/pg_hba.conf` : ''}`,
  ]);
  if (root) execFileSync('chown', ['postgres:', dirs.pgSock]);
  writeFileSync(inventoryFile, inventory());

  // First apply: issues everything, writes the files, starts both servers through their reloads.
  const applied = await rekey('apply');
  if (applied.code !== 0) throw new Error(`apply failed: ${applied.stdout}${applied.stderr}`);
  runAsPg('psql', ['-h', dirs.pgSock, '-p', String(pgPort), '-U', 'postgres', '-XAtqc', 'create role live_client login']);
}, 300_000);

afterAll(() => {
  writeFileSync(stopFile, '');
  apache?.stop();
  try {
    runAsPg('pg_ctl', ['-D', dirs.pgData, '-m', 'fast', '-w', 'stop']);
  } catch {
    // not started
  }
  if (!process.env.KEEP_LIVE) rmSync(work, { recursive: true, force: true });
});

describe('CA rotation under continuous client load against real Apache and PostgreSQL', () => {
  it('curl through the mTLS proxy and psql with verify-full and a client certificate: zero failures; both end on the new CA', async () => {
    // Prepare: both loops get through before the rotation starts
    const oldCa = caOf(join(dirs.trust, 'ca.crt'));
    expect(oldCa).toHaveLength(1);
    const loops = [startLoop('curl', curlLoop()), startLoop('psql', psqlLoop())];
    for (const end = Date.now() + 30_000; loops.some((l) => results(l).requests < 5) && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 200));
    const before = loops.map(results);

    // Act
    const rotated = await rekey('rotate', 'live-ca');
    await new Promise((r) => setTimeout(r, 2_000)); // requests after the drop's reload
    writeFileSync(stopFile, '');
    await Promise.all(loops.map((l) => l.done));

    // Assess
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const [curl, psql] = loops.map(results);
    console.log(
      `live CA rotation: curl ${curl!.requests} requests (${before[0]!.requests} before the rotation), ${curl!.failures.length} failed; psql ${psql!.requests} (${before[1]!.requests} before), ${psql!.failures.length} failed`,
    );
    expect(before.map((b) => b.failures)).toEqual([[], []]);
    if (process.env.KEEP_LIVE) console.log(work, psql!.failures, curl!.failures);
    expect(curl!.failures).toEqual([]);
    expect(psql!.failures).toEqual([]);
    expect(curl!.requests).toBeGreaterThan(before[0]!.requests + 5);
    expect(psql!.requests).toBeGreaterThan(before[1]!.requests + 5);
    const newCa = caOf(join(dirs.trust, 'ca.crt'));
    expect(newCa).toHaveLength(1);
    expect(newCa[0]!.fingerprint256).not.toBe(oldCa[0]!.fingerprint256);
    expect(caOf(c('root.crt')).map((x) => x.fingerprint256)).toEqual([newCa[0]!.fingerprint256]);
    for (const [port, startTls] of [
      [apachePort, undefined],
      [pgPort, 'postgres'],
    ] as const) {
      const leaf = served(port, startTls);
      expect(leaf.checkIssued(newCa[0]!) && leaf.verify(newCa[0]!.publicKey), `port ${port}`).toBe(true);
    }
  });

  it('the clientCert probe against PostgreSQL: a P-256 client certificate is accepted; a P-384 one fails over TLS 1.2 with the reason (wrong curve), while psql (TLS 1.3) accepts it', async () => {
    // Prepare
    const prober = new TlsProber();
    const target = (cert: string, key: string) => ({
      host: '127.0.0.1',
      port: pgPort,
      serverName: 'localhost',
      startTls: StartTls.Postgres,
      timeoutMs: 10_000,
      clientCertificate: { cert: readFileSync(c(cert), 'utf8'), key: readFileSync(c(key), 'utf8') },
    });
    // Act
    const p256 = await prober.probe(target('client.crt', 'client.key'));
    const p384 = await prober.probe(target('p384.crt', 'p384.key')).catch((e: unknown) => e as Error);
    const psql = execFileSync(
      'psql',
      [
        `host=localhost port=${pgPort} dbname=postgres user=live_client sslmode=verify-full sslrootcert=${c('root.crt')} sslcert=${c('p384.crt')} sslkey=${c('p384.key')}`,
        '-XAtc',
        'select version from pg_stat_ssl where pid = pg_backend_pid()',
      ],
      { encoding: 'utf8' },
    ).trim();
    // Assess
    expect(p256).toMatchObject({ protocol: 'TLSv1.2', clientCertificateAccepted: true });
    expect(p384).toBeInstanceOf(Error);
    expect((p384 as Error).message).toMatch(/ERR_SSL_SSLV3_ALERT_ILLEGAL_PARAMETER.*ssl_ecdh_curve.*wrong curve/);
    expect(readFileSync(join(dirs.pg, 'postgres.log'), 'utf8')).toContain('wrong curve');
    expect(psql).toBe('TLSv1.3');
  });
});
