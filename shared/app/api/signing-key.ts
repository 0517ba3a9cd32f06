import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, SignJWT, type JWK } from 'jose';
import { newJwtSigningJwks } from '../../domain/credentials/jwk-pair.js';
import { IntegrityError, UsageError } from '../../domain/errors.js';
import { decodeMaterial, encodeMaterial, type SigningKeyMaterial } from '../../domain/store/material.js';
import { Stage, type SecretStore } from '../../ports/secret-store.js';
import { isTokenScope } from './scopes.js';

/**
 * The API's own signing key (seed 003), kept in the store beside the inventory's items. The `_` prefix cannot be
 * an item name (item names start with a letter or digit), so it never collides with one.
 */
export const apiKeyStoreName = (inventory: string): string => `rekey/${inventory}/_api/jwt-signing-key`;

/** Algorithms the API signs and accepts. Anything else (none, HS*, RS*) is refused before a key is looked at. */
export const API_ALGORITHMS = ['ES256', 'EdDSA'] as const;
export type ApiAlgorithm = (typeof API_ALGORITHMS)[number];

/** Claims every token of this inventory's API carries: `iss` names the inventory, `aud` the API. */
export const tokenIssuer = (inventory: string): string => `rekey/${inventory}`;
export const TOKEN_AUDIENCE = 'rekey-api';

/** A new signing key: private JWK, its kid (RFC 7638 thumbprint) and the public key set, active first. */
export async function newApiSigningKey(algorithm: ApiAlgorithm, now: Date, previous?: SigningKeyMaterial): Promise<SigningKeyMaterial> {
  const { jwk, kid, publicJwk } = await newJwtSigningJwks(algorithm);
  return {
    type: 'signing-key',
    jwk,
    kid,
    alg: algorithm,
    keySet: [publicJwk, ...(previous ? previous.keySet : [])],
    createdAt: now.toISOString(),
    specHash: 'api',
  };
}

/** The stored API signing key, or undefined. */
export async function readApiSigningKey(store: SecretStore, inventory: string): Promise<SigningKeyMaterial | undefined> {
  const name = apiKeyStoreName(inventory);
  const v = await store.getVersion(name, { stage: Stage.Current });
  if (!v) return undefined;
  const m = decodeMaterial(v.value, name);
  if (m.type !== 'signing-key') throw new IntegrityError(`${name} holds a ${m.type}, not a signing key`);
  return m;
}

/** Saves a key as the current version (a one-write promotion: pending, then current). */
export async function saveApiSigningKey(store: SecretStore, inventory: string, material: SigningKeyMaterial): Promise<void> {
  const name = apiKeyStoreName(inventory);
  const versionId = randomUUID();
  await store.putPending(name, versionId, encodeMaterial(material), {
    description: 'rekey API JWT signing key',
    tags: { 'rekey/inventory': inventory, 'rekey/item': '_api' },
  });
  await store.promote(name, versionId);
}

/**
 * The API signing key, generated and saved if the store has none (seed 003: "if it is empty or does not exist, the
 * signing key is auto-generated and saved"). `generated` says which happened.
 */
export async function ensureApiSigningKey(
  store: SecretStore,
  inventory: string,
  options: { algorithm?: ApiAlgorithm; now?: Date } = {},
): Promise<{ material: SigningKeyMaterial; generated: boolean }> {
  const existing = await readApiSigningKey(store, inventory);
  if (existing) return { material: existing, generated: false };
  const material = await newApiSigningKey(options.algorithm ?? 'ES256', options.now ?? new Date());
  await saveApiSigningKey(store, inventory, material);
  return { material, generated: true };
}

/** Parses a private signing JWK (from a Secret); throws UsageError naming what is wrong, never the key itself. */
export async function signingKeyFromJwk(text: string, now: Date): Promise<SigningKeyMaterial> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new UsageError('the signing key Secret does not hold a JSON Web Key');
  }
  const alg = jwk.alg ?? (jwk.crv === 'Ed25519' ? 'EdDSA' : jwk.crv === 'P-256' ? 'ES256' : undefined);
  if (!alg || !(API_ALGORITHMS as readonly string[]).includes(alg) || !jwk.d)
    throw new UsageError(`the signing key Secret holds no private ${API_ALGORITHMS.join(' or ')} key`);
  const { d: _d, ...publicJwk } = jwk;
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwk));
  const pub = { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, ...(publicJwk.y && { y: publicJwk.y }), kid, alg, use: 'sig' };
  return { type: 'signing-key', jwk: { ...jwk, kid, alg }, kid, alg, keySet: [pub], createdAt: now.toISOString(), specHash: 'api' };
}

export interface MintOptions {
  readonly inventory: string;
  readonly scopes: readonly string[];
  readonly ttlSeconds: number;
  readonly subject?: string;
  readonly now?: Date;
}

/** Signs an API token with the active key: iss, aud, sub, iat, nbf, exp, jti, scope (space-separated). */
export async function mintApiToken(material: SigningKeyMaterial, options: MintOptions): Promise<string> {
  const unknown = options.scopes.filter((s) => !isTokenScope(s));
  if (unknown.length) throw new UsageError(`unknown scope(s): ${unknown.join(', ')}`);
  if (!options.scopes.length) throw new UsageError('give at least one scope');
  if (!(options.ttlSeconds > 0)) throw new UsageError('the token lifetime must be positive');
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const key = await importJWK(material.jwk as JWK, material.alg);
  return new SignJWT({ scope: options.scopes.join(' ') })
    .setProtectedHeader({ alg: material.alg, kid: material.kid, typ: 'JWT' })
    .setIssuer(tokenIssuer(options.inventory))
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(options.subject ?? 'operator')
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + options.ttlSeconds)
    .setJti(randomUUID())
    .sign(key);
}
