/** The API's view of one HTTP exchange, the same for `rekey serve` (node:http) and API Gateway (payload 2.0). */

export interface ApiRequest {
  readonly method: string;
  /** The path as received (still percent-encoded), without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body, or undefined when there was none. Never more than the limit: see `bodyTooLarge`. */
  readonly body?: Buffer;
  /** The runtime stopped reading because the body was over the limit (or Content-Length said it would be). */
  readonly bodyTooLarge?: boolean;
  /** Who is calling, before authentication (the peer address): the key of the rate limit for open routes. */
  readonly client: string;
  /**
   * The client certificate the peer proved it holds (TLS CertificateVerify), PEM, unverified otherwise: `rekey serve`
   * requests one without requiring it; API Gateway passes it with mTLS on a custom domain. Routes that accept it as
   * proof check its chain themselves (enrolment renewal).
   */
  readonly clientCertificate?: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** A binary body (a DER CRL); when set it is sent instead of `body`. */
  readonly bodyBytes?: Buffer;
}

/** 64 KiB: the largest body any route accepts (an Alertmanager group of a few dozen alerts fits). */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
