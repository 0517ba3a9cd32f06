import { errors as joseErrors, importJWK, jwtVerify, type CryptoKey, type JWK, type JWSHeaderParameters, type KeyObject } from 'jose';
import { ApiProblem, ProblemKind } from './problem.js';
import { API_ALGORITHMS } from './signing-key.js';
import type { Scope } from './scopes.js';
import { defined } from '../../domain/defined.js';

/** Who a verified token says is calling, and what it may do. */
export interface Principal {
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  readonly tokenId?: string;
}

export interface VerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  /** The public keys tokens may be signed with (active and those still in their overlap), by `kid`. */
  readonly keySet: () => Promise<readonly Readonly<Record<string, unknown>>[]>;
  /** Seconds of clock difference allowed on exp and nbf (default 30). */
  readonly clockToleranceSeconds?: number;
  readonly now?: () => Date;
}

/** 30 s: clocks of a cluster's nodes and a laptop disagree by a few seconds, rarely more. */
export const CLOCK_TOLERANCE_SECONDS = 30;

const unauthorized = (detail: string): ApiProblem =>
  new ApiProblem(ProblemKind.Unauthorized, detail, { headers: { 'www-authenticate': `Bearer realm="rekey", error="invalid_token"` } });

/** Why jose refused a token, in words a client can act on (never the token itself). */
function reasonOf(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `claim "${e.claim}" is not acceptable (${e.reason})`;
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return `algorithm not allowed (accepted: ${API_ALGORITHMS.join(', ')})`;
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid) return 'malformed token';
  if (e instanceof ApiProblem) return e.message;
  return 'the token cannot be verified';
}

/**
 * Verifies `Authorization: Bearer <JWT>` headers: algorithm allow-list (ES256, EdDSA: `none`, HS256 with a public
 * key as secret and RSA are refused before any key is used), `kid` required and looked up in the key set, iss,
 * aud, exp (required) and nbf with clock tolerance. Keys are imported once per kid.
 */
export class TokenVerifier {
  private readonly imported = new Map<string, Promise<CryptoKey | KeyObject | Uint8Array>>();

  constructor(private readonly options: VerifierOptions) {}

  private async keyFor(header: JWSHeaderParameters): Promise<CryptoKey | KeyObject | Uint8Array> {
    if (!header.kid) throw unauthorized('the token has no "kid" header');
    const jwk = (await this.options.keySet()).find((k) => k.kid === header.kid);
    if (!jwk) throw unauthorized('the token was signed with an unknown key');
    if (jwk.alg !== header.alg) throw unauthorized('the token algorithm does not match its key');
    const cacheKey = `${header.kid}:${header.alg}`;
    let key = this.imported.get(cacheKey);
    if (!key) {
      key = importJWK(jwk as JWK, header.alg);
      this.imported.set(cacheKey, key);
    }
    return key;
  }

  /** The principal of a valid bearer token; ApiProblem 401 for anything else. */
  async verify(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthorized('an Authorization: Bearer token is required');
    const match = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/i.exec(authorization.trim());
    if (!match) throw unauthorized('the Authorization header is not "Bearer <token>"');
    try {
      const { payload } = await jwtVerify(defined(match[1]), (header) => this.keyFor(header), {
        algorithms: [...API_ALGORITHMS],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
        ...(this.options.now && { currentDate: this.options.now() }),
      });
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      return {
        subject: defined(payload.sub),
        scopes: new Set(scope.split(' ').filter(Boolean)),
        ...(payload.jti && { tokenId: payload.jti }),
      };
    } catch (e) {
      throw unauthorized(reasonOf(e));
    }
  }
}

/** 403 unless the principal holds `scope`. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (!principal.scopes.has(scope)) {
    throw new ApiProblem(ProblemKind.Forbidden, `this route needs scope "${scope}"`, {
      headers: { 'www-authenticate': `Bearer realm="rekey", error="insufficient_scope", scope="${scope}"` },
    });
  }
}
