import { RekeyError } from '../../domain/errors.js';

/** An RFC 9457 problem document, as every API error is sent (`application/problem+json`). */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  /** Per-field problems of a rejected body (`path: message`). */
  readonly errors?: readonly string[];
  /** Correlates a 500 with the server's log line; nothing else about the failure leaves the server. */
  readonly correlationId?: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The kinds of refusal the API makes; each has its own `type` URI, status and title. */
export const ProblemKind = {
  BadRequest: { slug: 'bad-request', status: 400, title: 'Bad request' },
  InvalidName: { slug: 'invalid-name', status: 400, title: 'Invalid name' },
  Unauthorized: { slug: 'unauthorized', status: 401, title: 'Unauthorized' },
  Forbidden: { slug: 'insufficient-scope', status: 403, title: 'Forbidden' },
  NotFound: { slug: 'not-found', status: 404, title: 'Not found' },
  MethodNotAllowed: { slug: 'method-not-allowed', status: 405, title: 'Method not allowed' },
  Conflict: { slug: 'conflict', status: 409, title: 'Conflict' },
  PayloadTooLarge: { slug: 'payload-too-large', status: 413, title: 'Payload too large' },
  UnsupportedMediaType: { slug: 'unsupported-media-type', status: 415, title: 'Unsupported media type' },
  Unprocessable: { slug: 'validation-failed', status: 422, title: 'Validation failed' },
  TooManyRequests: { slug: 'rate-limited', status: 429, title: 'Too many requests' },
  Internal: { slug: 'internal', status: 500, title: 'Internal server error' },
  NotImplemented: { slug: 'not-implemented', status: 501, title: 'Not implemented' },
  Unavailable: { slug: 'unavailable', status: 503, title: 'Service unavailable' },
  Timeout: { slug: 'timeout', status: 504, title: 'Request timed out' },
} as const;
export type ProblemKind = (typeof ProblemKind)[keyof typeof ProblemKind];

export const problemType = (kind: ProblemKind): string => `https://rekey.dev/problems/${kind.slug}`;

/** An error meant for the HTTP client (middy's `expose`): its status, title and detail are sent as they are. */
export class ApiProblem extends RekeyError {
  readonly kind: ProblemKind;
  readonly headers: Readonly<Record<string, string>>;
  readonly errors?: readonly string[];

  constructor(
    kind: ProblemKind,
    detail: string,
    options: { headers?: Record<string, string>; errors?: readonly string[]; cause?: unknown } = {},
  ) {
    super(detail, options.cause === undefined ? {} : { cause: options.cause });
    this.kind = kind;
    this.headers = options.headers ?? {};
    if (options.errors) this.errors = options.errors;
  }

  get status(): number {
    return this.kind.status;
  }

  document(instance?: string): ProblemDocument {
    return {
      type: problemType(this.kind),
      title: this.kind.title,
      status: this.kind.status,
      detail: this.message,
      ...(instance && { instance }),
      ...(this.errors && { errors: this.errors }),
    };
  }
}
