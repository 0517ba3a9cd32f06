import { randomInt } from 'node:crypto';
import type { Credential } from '../inventory/model.js';
import type { PasswordMaterial, SigningKeyMaterial } from '../store/material.js';
import { newJwtSigningJwks } from './jwk-pair.js';

// No quotes, backslashes or spaces: the password goes into connection strings and shell-quoted env files unharmed.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.~';

export function generatePassword(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET.charAt(randomInt(ALPHABET.length));
  return out;
}

export function newPasswordMaterial(item: Credential, now: Date, specHash: string, login?: string): PasswordMaterial {
  return { type: 'password', password: generatePassword(item.length), ...(login && { login }), createdAt: now.toISOString(), specHash };
}

/** A new signing key; `keySet` keeps the previous public keys so verifiers accept both during the overlap. */
export async function newSigningKeyMaterial(
  item: Credential,
  now: Date,
  specHash: string,
  previous?: SigningKeyMaterial,
): Promise<SigningKeyMaterial> {
  const { jwk, kid, publicJwk } = await newJwtSigningJwks(item.algorithm);
  return {
    type: 'signing-key',
    jwk,
    kid,
    alg: item.algorithm,
    keySet: [publicJwk, ...(previous ? previous.keySet.filter((k) => k.kid === previous.kid) : [])],
    createdAt: now.toISOString(),
    specHash,
  };
}
