import { RekeyError, type ErrorContext } from '../domain/errors.js';

/** Protocols that speak plaintext first and switch to TLS on request. */
export const StartTls = { Postgres: 'postgres' } as const;
export type StartTls = (typeof StartTls)[keyof typeof StartTls];

/** One TLS endpoint to look at, and what to present to it. */
export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  /** SNI; the host when left out (and not an IP address). */
  readonly serverName?: string;
  readonly startTls?: StartTls;
  /** A client certificate (leaf + intermediates, PEM) and its key (PKCS#8 PEM) to present. */
  readonly clientCertificate?: { readonly cert: string; readonly key: string };
  /** The whole probe (connect, STARTTLS, handshake) must end within this; then it fails. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** What a server presented in a handshake that completed. */
export interface ServedTls {
  /** DER of each certificate the server sent, its leaf first. */
  readonly chain: readonly Buffer[];
  /** Negotiated protocol, e.g. `TLSv1.2`. */
  readonly protocol: string;
  /**
   * With a client certificate: true once the server finished a handshake in which it had the client's certificate
   * to check (TLS 1.2: its Finished comes after that check, so this is the server's acceptance, not a guess).
   */
  readonly clientCertificateAccepted?: boolean;
}

/** Looks at what an endpoint serves, to verify a rotation reached it. */
export interface Prober {
  /** Connects, handshakes and reports what was served. Throws ProbeError when that does not happen in time. */
  probe(target: ProbeTarget): Promise<ServedTls>;
}

/** Why a probe got no served chain. */
export const ProbeFailure = {
  /** No answer within the probe's deadline. */
  Timeout: 'timeout',
  /** Connection refused, reset, or the name did not resolve. */
  Unreachable: 'unreachable',
  /** The server refused to switch to TLS (PostgreSQL answered `N` to SSLRequest) or answered something else. */
  StartTls: 'starttls',
  /** The server refused the client certificate presented (an alert such as unknown_ca or bad_certificate). */
  ClientCertificateRefused: 'client-certificate-refused',
  /** Any other handshake failure (no common protocol or cipher, ...). */
  Handshake: 'handshake',
} as const;
export type ProbeFailure = (typeof ProbeFailure)[keyof typeof ProbeFailure];

/** A probe that did not end in a completed handshake. Retryable: a server may be in the middle of a reload. */
export class ProbeError extends RekeyError {
  constructor(
    readonly failure: ProbeFailure,
    message: string,
    options: { cause?: unknown; context?: ErrorContext } = {},
  ) {
    super(message, { ...options, retryable: true });
  }
}
