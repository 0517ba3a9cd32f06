import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { UsageError } from '../../domain/errors.js';
import { buildCertificate } from '../../domain/pki/certificate.js';
import { generateKeyPair, privateKeyToPem } from '../../domain/pki/keys.js';
import type { SecretSink } from '../../ports/cluster.js';
import type { Logger } from '../../ports/logger.js';
import { defined } from '../../domain/defined.js';

/** A serving certificate and key (PEM) and where they came from (for logs: never the key). */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly source: string;
  /** SHA-256 of the certificate: what changed when a Secret is re-read. */
  readonly fingerprint: string;
}

const fingerprintOf = (cert: string): string => createHash('sha256').update(cert).digest('hex');

/** Seed 003's fallback: a self-signed ECDSA P-256 server certificate made at start, valid for a year. */
export function selfSignedTls(names: readonly string[] = ['localhost', hostname()], now: Date = new Date()): TlsMaterial {
  const { privateKey, publicKey } = generateKeyPair('ECDSA-P256');
  const built = buildCertificate({
    subject: { commonName: 'rekey-api' },
    publicKey,
    selfSigningKey: privateKey,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + 365 * 86_400_000),
    profile: { kind: 'leaf', usage: 'server', altNames: { dnsNames: [...new Set(names)], ipAddresses: ['127.0.0.1', '::1'], uris: [] } },
  });
  return { cert: built.pem, key: privateKeyToPem(privateKey), source: 'self-signed', fingerprint: fingerprintOf(built.pem) };
}

/** `ns/name` as given to --tls-secret and --jwt-key-secret. */
export function parseSecretRef(text: string, flag: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m) throw new UsageError(`${flag} ${text}: expected NAMESPACE/NAME`);
  return { namespace: defined(m[1]), name: defined(m[3]) };
}

/** The `tls.crt` and `tls.key` of a Secret; a missing Secret or key is a UsageError naming it. */
export async function tlsFromSecret(sink: SecretSink, ref: { namespace: string; name: string }): Promise<TlsMaterial> {
  const s = await sink.getSecret(ref.namespace, ref.name);
  const where = `Secret ${ref.namespace}/${ref.name}`;
  if (!s) throw new UsageError(`${where} does not exist (--tls-secret)`);
  const cert = s.data['tls.crt'];
  const key = s.data['tls.key'];
  if (!cert?.includes('BEGIN CERTIFICATE') || !key?.includes('PRIVATE KEY'))
    throw new UsageError(`${where} has no tls.crt and tls.key in PEM`);
  return { cert, key, source: where, fingerprint: fingerprintOf(cert) };
}

/**
 * Re-reads the Secret every `intervalMs` and calls `onChange` when its certificate changed (rekey's own rotation
 * of the serving certificate, or anyone's). A read that fails keeps the current material and logs a warning.
 * Returns a function that stops watching.
 */
export function watchTlsSecret(
  sink: SecretSink,
  ref: { namespace: string; name: string },
  current: TlsMaterial,
  onChange: (next: TlsMaterial) => void,
  options: { intervalMs: number; log: Logger },
): () => void {
  let last = current.fingerprint;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    tlsFromSecret(sink, ref)
      .then((next) => {
        if (next.fingerprint === last) return;
        last = next.fingerprint;
        options.log.info('serving certificate reloaded', { source: next.source, fingerprint: next.fingerprint });
        onChange(next);
      })
      .catch((e: unknown) =>
        options.log.warn('serving certificate not reloaded', {
          source: `${ref.namespace}/${ref.name}`,
          error: e instanceof Error ? e.message : String(e),
        }),
      )
      .finally(() => {
        busy = false;
      });
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
