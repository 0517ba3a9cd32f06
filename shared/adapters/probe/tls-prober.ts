import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { ProbeError, ProbeFailure, type ProbeTarget, type Prober, type ServedTls } from '../../ports/prober.js';
import { startTls } from './starttls.js';

/** Alerts a server sends when it does not accept the client certificate it was given (TLS 1.2 and 1.3). */
const REFUSED_CLIENT_CERTIFICATE = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
]);

/**
 * What an OpenSSL server answers, over TLS 1.2, to a client certificate on an elliptic curve it does not offer for key
 * exchange (RFC 8422 §5.1 ties the two in TLS 1.2; TLS 1.3 does not, which is why libpq clients are not affected).
 */
const ILLEGAL_PARAMETER = 'ERR_SSL_SSLV3_ALERT_ILLEGAL_PARAMETER';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

const Phase = { Connect: 'connecting', StartTls: 'STARTTLS', Handshake: 'TLS handshake' } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * The Prober over node:net and node:tls: connects, optionally asks for STARTTLS, handshakes without judging the
 * server's certificate (the caller does, against what it expects), and returns the chain the server sent.
 *
 * A client certificate is presented over TLS 1.2: there the server's Finished message follows its check of the
 * client certificate, so a completed handshake proves the server accepted it. (In TLS 1.3 the client's side of
 * the handshake completes before the server has looked at the certificate, and a refusal arrives later, if at
 * all.) Without a client certificate TLS 1.3 is allowed, so a server that requires one still shows its chain.
 */
export class TlsProber implements Prober {
  async probe(target: ProbeTarget): Promise<ServedTls> {
    const endpoint = `${target.host}:${target.port}`;
    const deadline = AbortSignal.timeout(target.timeoutMs);
    const signal = target.signal ? AbortSignal.any([deadline, target.signal]) : deadline;
    const sockets: Socket[] = [];
    let phase: Phase = Phase.Connect;
    try {
      return await abortable(
        signal,
        () => timeoutError(target, endpoint, phase, deadline.aborted),
        async () => {
          const plain = netConnect({ host: target.host, port: target.port });
          sockets.push(plain);
          await connected(plain);
          if (target.startTls) {
            phase = Phase.StartTls;
            await startTls(target.startTls, plain, endpoint);
          }
          phase = Phase.Handshake;
          const secure = tlsConnect({
            socket: plain,
            rejectUnauthorized: false,
            ...(servername(target) && { servername: servername(target) }),
            ...(target.clientCertificate && {
              cert: target.clientCertificate.cert,
              key: target.clientCertificate.key,
              maxVersion: 'TLSv1.2' as const,
            }),
          });
          sockets.push(secure);
          await secured(secure);
          return {
            chain: servedChain(secure.getPeerCertificate(true)),
            protocol: secure.getProtocol() ?? 'unknown',
            ...(target.clientCertificate && { clientCertificateAccepted: true }),
          };
        },
      );
    } catch (e) {
      throw probeErrorOf(e, target, endpoint, phase);
    } finally {
      // The TLS socket before the socket it wraps: the other way round crashes node 20 (SIGSEGV) in its TLS wrap.
      for (const s of sockets.reverse()) s.destroy();
    }
  }
}

/** SNI: the given name, else the host unless it is an address (SNI carries names only). */
const servername = (target: ProbeTarget): string | undefined => target.serverName ?? (isIP(target.host) ? undefined : target.host);

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
  });
}

function secured(socket: TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('connection closed during the TLS handshake')));
  });
}

/** Leaf first, following the issuer links node builds from what the server sent, each certificate once. */
function servedChain(leaf: DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  // node's types say `raw` and `issuerCertificate` are always there; at the top of a chain they are not.
  type Link = { readonly raw?: Buffer; readonly issuerCertificate?: unknown };
  let cur: Link | undefined = leaf;
  while (cur?.raw) {
    const raw = cur.raw;
    if (chain.some((c) => c.equals(raw))) break;
    chain.push(raw);
    cur = cur.issuerCertificate as Link | undefined;
  }
  return chain;
}

function abortable<T>(signal: AbortSignal, onAbort: () => Error, work: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(onAbort());
      return;
    }
    const listener = () => reject(onAbort());
    signal.addEventListener('abort', listener, { once: true });
    work()
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', listener));
  });
}

function timeoutError(target: ProbeTarget, endpoint: string, phase: Phase, ownDeadline: boolean): ProbeError {
  const why = ownDeadline ? `no answer within ${target.timeoutMs / 1000}s` : 'cancelled (the run is out of time)';
  return new ProbeError(ProbeFailure.Timeout, `${endpoint}: ${why} while ${phase}`, { context: { endpoint } });
}

function probeErrorOf(e: unknown, target: ProbeTarget, endpoint: string, phase: Phase): ProbeError {
  if (e instanceof ProbeError) return e;
  const code = (e as { code?: string }).code ?? '';
  const message = e instanceof Error ? e.message : String(e);
  const context = { endpoint };
  if (phase === Phase.Connect || UNREACHABLE.has(code))
    return new ProbeError(ProbeFailure.Unreachable, `${endpoint}: cannot connect (${code || message})`, { cause: e, context });
  if (phase === Phase.StartTls)
    return new ProbeError(ProbeFailure.StartTls, `${endpoint}: STARTTLS failed (${code || message})`, { cause: e, context });
  if (target.clientCertificate && REFUSED_CLIENT_CERTIFICATE.has(code)) {
    return new ProbeError(ProbeFailure.ClientCertificateRefused, `${endpoint}: the server refused the client certificate (${code})`, {
      cause: e,
      context,
    });
  }
  if (target.clientCertificate && code === ILLEGAL_PARAMETER) {
    return new ProbeError(
      ProbeFailure.Handshake,
      `${endpoint}: TLS handshake failed (${code}): over TLS 1.2 (used to prove the client certificate is accepted) OpenSSL servers refuse an ECDSA client certificate ` +
        `whose curve is not among the groups they offer for key exchange: PostgreSQL offers only ssl_ecdh_curve (default prime256v1) and logs "wrong curve". ` +
        `Probe with a P-256 (or RSA, Ed25519) client certificate, or add the curve to the server's groups`,
      { cause: e, context },
    );
  }
  return new ProbeError(ProbeFailure.Handshake, `${endpoint}: TLS handshake failed (${code || message})`, { cause: e, context });
}
