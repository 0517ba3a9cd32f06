import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { DEFAULT_BODY_LIMIT } from './http.js';
import { nodeListener } from './node-http.js';
import type { Router } from './router.js';
import type { TlsMaterial } from './tls.js';

export interface HttpsApi {
  readonly server: Server;
  readonly port: number;
  /** Serves new connections with this certificate (existing ones keep theirs). */
  setTls(tls: TlsMaterial): void;
  close(): Promise<void>;
}

/**
 * The router on HTTPS (TLS 1.2+). Slow clients are cut off: headers within 10 s, a whole request within 30 s,
 * idle keep-alive connections after 5 s.
 */
export async function listenHttps(options: {
  router: Router;
  tls: TlsMaterial;
  port: number;
  host?: string;
  bodyLimit?: number;
}): Promise<HttpsApi> {
  const server = createServer(
    // A client certificate is requested, never required: enrolment renewal takes it as proof (its chain is checked
    // by that route against the profile's CA, so the handshake accepts any); every other route ignores it.
    { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: false },
    nodeListener(options.router, options.bodyLimit ?? DEFAULT_BODY_LIMIT),
  );
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    setTls: (tls) => server.setSecureContext({ cert: tls.cert, key: tls.key }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
