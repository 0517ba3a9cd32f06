import type { IncomingMessage, ServerResponse } from 'node:http';
import { TLSSocket, type DetailedPeerCertificate } from 'node:tls';
import { pem } from '../../domain/pki/der-writer.js';
import { DEFAULT_BODY_LIMIT, type ApiRequest } from './http.js';
import type { Router } from './router.js';

/** Declared bodies over the limit but at most this large are read and discarded before the 413 (see readRequest). */
const DRAIN_LIMIT = 64 * 1024 * 1024;

/** The peer's certificate on a TLS socket that asked for one (TLS has checked the peer holds its key), as PEM. */
function clientCertificateOf(req: IncomingMessage): { clientCertificate?: string } {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return {};
  const raw = (socket.getPeerCertificate(false) as Partial<DetailedPeerCertificate>).raw;
  return raw?.length ? { clientCertificate: pem(raw, 'CERTIFICATE') } : {};
}

/**
 * Reads a node:http request into an ApiRequest, buffering at most `limit` bytes: a declared Content-Length over
 * the limit is refused without being kept (read and discarded up to 1 MiB, not read beyond), and a chunked body stops being kept at the limit (the rest is discarded).
 */
export function readRequest(req: IncomingMessage, limit: number = DEFAULT_BODY_LIMIT): Promise<ApiRequest> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  const base = {
    method: req.method ?? 'GET',
    path: rawPath,
    query: url.searchParams,
    headers,
    client: req.socket.remoteAddress ?? 'unknown',
    ...clientCertificateOf(req),
  };
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    // A body a little over the limit is drained first, so a client that writes its whole body before reading
    // (most HTTP libraries) gets the 413 instead of a connection closed under it; a far larger one is not waited for.
    if (declared > DRAIN_LIMIT) return Promise.resolve({ ...base, bodyTooLarge: true });
    return new Promise((resolve) => {
      const done = () => resolve({ ...base, bodyTooLarge: true });
      req.once('end', done);
      req.once('error', done);
    });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(tooLarge ? { ...base, bodyTooLarge: true } : { ...base, ...(size > 0 && { body: Buffer.concat(chunks) }) }),
    );
    req.on('error', reject);
  });
}

/** A node:http(s) request listener over the router. */
export function nodeListener(router: Router, limit: number = DEFAULT_BODY_LIMIT): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    readRequest(req, limit)
      .then(router)
      .then((response) => {
        res.writeHead(response.status, { ...response.headers, ...(response.status === 413 && { connection: 'close' }) });
        res.end(response.bodyBytes ?? response.body);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/problem+json', connection: 'close' });
        res.end();
      });
  };
}
