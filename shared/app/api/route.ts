import type { z } from 'zod';
import type { Principal } from './auth.js';
import type { ApiBackend } from './backend.js';
import type { Scope } from './scopes.js';

/** What a handler gets: validated params and body, the caller, and a deadline. */
export interface RouteContext<B> {
  readonly params: Readonly<Record<string, string>>;
  readonly body: B;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly principal?: Principal;
  readonly signal: AbortSignal;
  readonly backend: ApiBackend;
  /** The peer's client certificate (PEM), when it presented one; see ApiRequest.clientCertificate. */
  readonly clientCertificate?: string;
}

/** A handler's answer: JSON (default) or text with its content type. */
export interface Reply {
  readonly status: number;
  readonly json?: unknown;
  readonly text?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A binary body (sent as is; base64 on Lambda), with `contentType`. */
  readonly bytes?: Buffer;
}

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly contentType?: string;
}

export const HttpMethod = { Get: 'GET', Post: 'POST', Put: 'PUT' } as const;
export type HttpMethod = (typeof HttpMethod)[keyof typeof HttpMethod];

/** One route: its contract (for validation and OpenAPI) and its handler. */
export interface Route<B = unknown> {
  readonly operationId: string;
  readonly method: HttpMethod;
  /** `/v1/items/{name}`: `{x}` is one path segment, validated by `params.x` before the handler runs. */
  readonly path: string;
  readonly summary: string;
  /** Open when absent (health, readiness, version, the OpenAPI document). */
  readonly scope?: Scope;
  /** A token is required but its scope is the handler's to check (scopes named by the inventory: `enrol:<profile>`). */
  readonly authenticate?: boolean;
  /** No token: the caller proves itself with a client certificate the handler verifies (OpenAPI `mutualTLS`). */
  readonly clientCertificate?: boolean;
  readonly params?: Readonly<Record<string, z.ZodType<string>>>;
  readonly body?: z.ZodType<B>;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  readonly handle: (ctx: RouteContext<B>) => Promise<Reply>;
}

/** Keeps each route's body type while the table holds them all. */
export const defineRoute = <B>(route: Route<B>): Route => route as Route;
