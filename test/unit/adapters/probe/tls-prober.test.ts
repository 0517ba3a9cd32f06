// The TLS prober against local node:tls servers with certificates rekey issues itself: what it returns as served,
// SNI, PostgreSQL's STARTTLS, client certificates accepted and refused, and deadlines that fail rather than pass.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, TLSSocket, type TlsOptions } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TlsProber } from '../../../../shared/adapters/probe/tls-prober.js';
import { fingerprintOf } from '../../../../shared/domain/pki/chain.js';
import { issueMaterial } from '../../../../shared/domain/pki/issue.js';
import { specHashOf } from '../../../../shared/domain/units.js';
import { ProbeError, ProbeFailure, StartTls } from '../../../../shared/ports/prober.js';
import { pemFile } from '../../../fixtures/openssl.js';
import { issueAuthorities, pkiInventory, unitOf } from '../../../fixtures/pki.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const NOW = new Date();
const inventory = pkiInventory();
const cas = issueAuthorities(inventory, NOW);
const issue = (name: string, issuer = cas.inter) =>
  issueMaterial(unitOf(inventory, name), issuer, NOW, specHashOf(unitOf(inventory, name)));
// web: RSA-2048 server under the Ed25519 intermediate; long: ECDSA-P256 server; client: ECDSA-P256 client
const web = issue('web');
const long = issue('long');
const client = issue('client');
const stranger = issue('client', cas.otherRoot);

const servers: Server[] = [];
const sockets = new Set<Socket>();
const children: ChildProcess[] = [];
let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('rekey-probe-');
});
afterAll(() => removeTempDir(dir));
afterEach(async () => {
  for (const c of children.splice(0)) c.kill();
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const tlsServer = (options: TlsOptions) => {
  const server = createTlsServer(options, (s) => s.end());
  server.on('tlsClientError', () => {});
  return listen(server);
};

/** A PostgreSQL-like server: answers SSLRequest with `answer`, then (for S) speaks TLS with `options`. */
function postgresLike(answer: 'S' | 'N' | 'silent', options: TlsOptions): Promise<number> {
  const server = createNetServer((socket) => {
    socket.once('data', (request) => {
      if (request.readUInt32BE(4) !== 80877103 || answer === 'silent') return;
      socket.write(answer);
      if (answer === 'N') return;
      const secure = new TLSSocket(socket, { isServer: true, secureContext: createSecureContext(options), ...options });
      secure.on('error', () => {});
    });
  });
  return listen(server);
}

/** `openssl s_server` on a free port, killed after the test; resolves once it accepts connections. */
async function opensslServer(args: string[]): Promise<number> {
  const port = await listen(createNetServer());
  await new Promise((resolve) => servers.pop()!.close(resolve));
  const child = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-quiet', '-naccept', '10', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const check = (d: Buffer) => {
      output += d.toString();
      if (/ACCEPT/.test(output)) resolve();
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', (code) => reject(new Error(`openssl s_server exited ${code}: ${output}`)));
    // -quiet prints nothing on start: probe the port until it answers
    const poll = () => {
      const s = netConnect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => setTimeout(poll, 50));
    };
    poll();
  });
  return port;
}

const prober = new TlsProber();
const fp = (pem: string) => fingerprintOf(new X509Certificate(pem));

describe('TlsProber', () => {
  it('returns the chain the server sends, leaf first, and the protocol', async () => {
    // Prepare
    const port = await tlsServer({ cert: web.cert + web.chain, key: web.key });
    // Act
    const served = await prober.probe({ host: '127.0.0.1', port, timeoutMs: 5000 });
    // Assess
    expect(served.chain.map((der) => fingerprintOf(new X509Certificate(der)))).toEqual([web.fingerprint, cas.inter.material.fingerprint]);
    expect(served.protocol).toBe('TLSv1.3');
    expect(served.clientCertificateAccepted).toBeUndefined();
  });

  it('sends the server name, so a server with several certificates serves the one asked for', async () => {
    // Prepare
    const byName: Record<string, { cert: string; key: string }> = { 'web.test': web, 'long.test': long };
    const port = await tlsServer({
      cert: web.cert,
      key: web.key,
      SNICallback: (name, cb) => cb(null, createSecureContext({ cert: byName[name]!.cert, key: byName[name]!.key })),
    });
    // Act
    const asLong = await prober.probe({ host: '127.0.0.1', port, serverName: 'long.test', timeoutMs: 5000 });
    const asWeb = await prober.probe({ host: '127.0.0.1', port, serverName: 'web.test', timeoutMs: 5000 });
    // Assess
    expect(fingerprintOf(new X509Certificate(asLong.chain[0]!))).toBe(long.fingerprint);
    expect(fingerprintOf(new X509Certificate(asWeb.chain[0]!))).toBe(web.fingerprint);
  });

  it('asks a PostgreSQL server for TLS (SSLRequest, S) before the handshake', async () => {
    // Prepare
    const port = await postgresLike('S', { cert: long.cert, key: long.key });
    // Act
    const served = await prober.probe({ host: '127.0.0.1', port, startTls: StartTls.Postgres, timeoutMs: 5000 });
    // Assess
    expect(fingerprintOf(new X509Certificate(served.chain[0]!))).toBe(long.fingerprint);
  });

  it('fails when PostgreSQL refuses TLS (N)', async () => {
    // Prepare
    const port = await postgresLike('N', { cert: long.cert, key: long.key });
    // Act
    const error = await prober.probe({ host: '127.0.0.1', port, startTls: StartTls.Postgres, timeoutMs: 5000 }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ProbeError);
    expect((error as ProbeError).failure).toBe(ProbeFailure.StartTls);
    expect((error as ProbeError).message).toMatch(/refused TLS/);
  });

  it('presents a client certificate; a completed handshake means the server accepted it', async () => {
    // Prepare
    const port = await tlsServer({
      cert: web.cert + web.chain,
      key: web.key,
      requestCert: true,
      rejectUnauthorized: true,
      ca: cas.root.material.cert,
    });
    // Act
    const served = await prober.probe({
      host: '127.0.0.1',
      port,
      clientCertificate: { cert: client.cert + client.chain, key: client.key },
      timeoutMs: 5000,
    });
    // Assess
    expect(served.clientCertificateAccepted).toBe(true);
    expect(served.protocol).toBe('TLSv1.2');
    expect(fingerprintOf(new X509Certificate(served.chain[0]!))).toBe(fp(web.cert));
  });

  it('reports a client certificate of another CA as refused by an OpenSSL server (it sends an alert, as Apache does)', async () => {
    // Prepare
    const port = await opensslServer([
      '-Verify',
      '2',
      '-verify_return_error',
      '-CAfile',
      pemFile(dir, 'root.pem', cas.root.material.cert),
      '-cert',
      pemFile(dir, 'web.pem', web.cert),
      '-cert_chain',
      pemFile(dir, 'chain.pem', web.chain),
      '-key',
      pemFile(dir, 'web.key', web.key),
    ]);
    // Act
    const refused = await prober
      .probe({ host: '127.0.0.1', port, clientCertificate: { cert: stranger.cert + stranger.chain, key: stranger.key }, timeoutMs: 5000 })
      .catch((e: unknown) => e);
    const accepted = await prober.probe({
      host: '127.0.0.1',
      port,
      clientCertificate: { cert: client.cert + client.chain, key: client.key },
      timeoutMs: 5000,
    });
    // Assess
    expect(refused).toBeInstanceOf(ProbeError);
    expect((refused as ProbeError).failure).toBe(ProbeFailure.ClientCertificateRefused);
    expect((refused as ProbeError).message).toMatch(/refused the client certificate \(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA\)/);
    expect((refused as ProbeError).retryable).toBe(true);
    expect(accepted.clientCertificateAccepted).toBe(true);
  });

  it('fails (never passes) against a node server that drops a client certificate it does not trust', async () => {
    // Prepare
    const port = await tlsServer({
      cert: web.cert + web.chain,
      key: web.key,
      requestCert: true,
      rejectUnauthorized: true,
      ca: cas.root.material.cert,
    });
    // Act
    const error = await prober
      .probe({ host: '127.0.0.1', port, clientCertificate: { cert: stranger.cert + stranger.chain, key: stranger.key }, timeoutMs: 5000 })
      .catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ProbeError);
    expect((error as ProbeError).failure).toBe(ProbeFailure.Handshake);
  });

  it.each([
    ['a server that accepts and never answers', () => listen(createNetServer(() => {})), undefined, 'TLS handshake'],
    [
      'a PostgreSQL that never answers SSLRequest',
      () => postgresLike('silent', { cert: long.cert, key: long.key }),
      StartTls.Postgres,
      'STARTTLS',
    ],
  ])('fails at its deadline against %s', async (_name, start, startTls, phase) => {
    // Prepare
    const port = await start();
    // Act
    const error = await prober.probe({ host: '127.0.0.1', port, timeoutMs: 300, ...(startTls && { startTls }) }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ProbeError);
    expect((error as ProbeError).failure).toBe(ProbeFailure.Timeout);
    expect((error as ProbeError).message).toBe(`127.0.0.1:${port}: no answer within 0.3s while ${phase}`);
  });

  it('fails as unreachable when nothing listens', async () => {
    // Prepare: a port that was free a moment ago
    const port = await listen(createNetServer());
    await new Promise((resolve) => servers.pop()!.close(resolve));
    // Act
    const error = await prober.probe({ host: '127.0.0.1', port, timeoutMs: 5000 }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ProbeError);
    expect((error as ProbeError).failure).toBe(ProbeFailure.Unreachable);
    expect((error as ProbeError).message).toMatch(/ECONNREFUSED/);
  });

  it('stops when the caller cancels (the Lambda running out of time)', async () => {
    // Prepare
    const port = await listen(createNetServer(() => {}));
    const controller = new AbortController();
    // Act
    const pending = prober.probe({ host: '127.0.0.1', port, timeoutMs: 60_000, signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    const error = await pending;
    // Assess
    expect(error).toBeInstanceOf(ProbeError);
    expect((error as ProbeError).message).toMatch(/cancelled/);
  });
});
