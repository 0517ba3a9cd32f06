// Local TLS servers for the probe tests: a node:tls server whose certificate the test chooses per handshake, and
// `openssl s_server` for client-certificate checks (it answers an untrusted client certificate with an alert, as
// Apache and PostgreSQL do).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer } from 'node:tls';

export class TestServers {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly children: ChildProcess[] = [];

  /** A port that was free a moment ago. */
  async freePort(): Promise<number> {
    const server = createNetServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  /** A TLS server on 127.0.0.1 that serves what `serving()` returns at each handshake (SNI needed). */
  async tls(serving: () => { cert: string; key: string }): Promise<number> {
    const server = createServer({ SNICallback: (_name, cb) => cb(null, createSecureContext(serving())) }, (s) => s.end());
    server.on('tlsClientError', () => {});
    return this.listen(server);
  }

  /** A server that accepts connections and never answers. */
  silent(): Promise<number> {
    return this.listen(createNetServer(() => {}));
  }

  /** `openssl s_server` on `port`, requiring a client certificate from `caFile`; resolves once it accepts. */
  async openssl(port: number, files: { caFile: string; certFile: string; keyFile: string }): Promise<void> {
    const child = spawn(
      'openssl',
      [
        's_server',
        '-accept',
        `127.0.0.1:${port}`,
        '-quiet',
        '-naccept',
        '20',
        '-Verify',
        '2',
        '-verify_return_error',
        '-CAfile',
        files.caFile,
        '-cert',
        files.certFile,
        '-key',
        files.keyFile,
      ],
      { stdio: 'ignore' },
    );
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`openssl s_server exited ${code}`)));
      const poll = () => {
        const s = connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          resolve();
        });
        s.on('error', () => setTimeout(poll, 50));
      };
      poll();
    });
  }

  async close(): Promise<void> {
    for (const c of this.children.splice(0)) c.kill();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all(this.servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  }

  private async listen(server: Server): Promise<number> {
    this.servers.push(server);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }
}
