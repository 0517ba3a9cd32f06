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

/** A token this verifier accepted, kept so the same token is not verified again (ECDSA) on every request. */
interface Verified {
  readonly principal: Principal;
  readonly exp: number;
  readonly nbf: number;
}

/** Tokens remembered at most per key set; the oldest is forgotten first. */
const VERIFIED_TOKENS_KEPT = 10_000;

/**
 * Verifies `Authorization: Bearer <JWT>` headers: algorithm allow-list (ES256, EdDSA: `none`, HS256 with a public
 * key as secret and RSA are refused before any key is used), `kid` required and looked up in the key set, iss,
 * aud, exp (required) and nbf with clock tolerance.
 *
 * The hot path is cheap: each key is imported once (per JWK object of the key set, so a key replaced under the
 * same kid is imported again), and a token verified once is remembered with its principal, exp and nbf for as long
 * as the key set is the same array (`storeKeySet` returns the same array while the keys are unchanged): a repeated
 * token costs a map lookup and the exp/nbf comparison. A key removed from the set makes a new array, which drops
 * every remembered token.
 */
export class TokenVerifier {
  private readonly imported = new WeakMap<object, Map<string, Promise<CryptoKey | KeyObject | Uint8Array>>>();
  private verified: { keys: readonly object[]; tokens: Map<string, Verified> } | undefined;

  constructor(private readonly options: VerifierOptions) {}

  private keyFor(
    keys: readonly Readonly<Record<string, unknown>>[],
    header: JWSHeaderParameters,
  ): Promise<CryptoKey | KeyObject | Uint8Array> {
    if (!header.kid) throw unauthorized('the token has no "kid" header');
    const jwk = keys.find((k) => k.kid === header.kid);
    if (!jwk) throw unauthorized('the token was signed with an unknown key');
    if (jwk.alg !== header.alg) throw unauthorized('the token algorithm does not match its key');
    const alg = defined(header.alg, 'the token algorithm');
    let byAlg = this.imported.get(jwk);
    if (!byAlg) {
      byAlg = new Map();
      this.imported.set(jwk, byAlg);
    }
    let key = byAlg.get(alg);
    if (!key) {
      key = importJWK(jwk as JWK, alg);
      byAlg.set(alg, key);
    }
    return key;
  }

  /** The principal of a valid bearer token; ApiProblem 401 for anything else. */
  async verify(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthorized('an Authorization: Bearer token is required');
    const match = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/i.exec(authorization.trim());
    if (!match) throw unauthorized('the Authorization header is not "Bearer <token>"');
    const token = defined(match[1]);
    const tolerance = this.options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS;
    const currentDate = this.options.now?.() ?? new Date();
    const nowS = Math.floor(currentDate.getTime() / 1000);
    try {
      const keys = await this.options.keySet();
      // The same comparisons jose makes (exp > now - tolerance, nbf <= now + tolerance), on what it accepted before.
      const remembered = this.verified?.keys === keys ? this.verified.tokens.get(token) : undefined;
      if (remembered && remembered.exp > nowS - tolerance && remembered.nbf <= nowS + tolerance) return remembered.principal;
      const { payload } = await jwtVerify(token, (header) => this.keyFor(keys, header), {
        algorithms: [...API_ALGORITHMS],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: tolerance,
        requiredClaims: ['exp', 'sub'],
        currentDate,
      });
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      const principal: Principal = {
        subject: defined(payload.sub),
        scopes: new Set(scope.split(' ').filter(Boolean)),
        ...(payload.jti && { tokenId: payload.jti }),
      };
      this.remember(keys, token, { principal, exp: defined(payload.exp), nbf: payload.nbf ?? Number.NEGATIVE_INFINITY });
      return principal;
    } catch (e) {
      throw unauthorized(reasonOf(e));
    }
  }

  private remember(keys: readonly object[], token: string, verified: Verified): void {
    if (this.verified?.keys !== keys) this.verified = { keys, tokens: new Map() };
    const { tokens } = this.verified;
    tokens.set(token, verified);
    if (tokens.size > VERIFIED_TOKENS_KEPT) tokens.delete(defined(tokens.keys().next().value));
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
