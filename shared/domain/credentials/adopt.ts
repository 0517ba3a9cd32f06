import { alternateOf } from './logins.js';
import type { Credential } from '../inventory/model.js';
import type { ObservedSecret } from '../sync/secret.js';
import type { PasswordMaterial } from '../store/material.js';

/**
 * A password taken over from an existing Secret (`adopt: true`): its `password` becomes the first version, so
 * nothing changes for its consumers or the database. Or the reason it cannot be: no password, or a `username`
 * that is not one of the credential's logins. The reason never quotes the password.
 */
export function adoptablePassword(item: Credential, secret: ObservedSecret, now: Date, specHash: string): PasswordMaterial | string {
  if (item.type !== 'password') return 'only passwords can be adopted among credentials';
  const password = secret.data.password;
  if (!password) return 'Secret has no password';
  const username = secret.data.username ?? secret.data.user;
  const database = item.database;
  if (database && username !== undefined) {
    const logins = database.strategy === 'alternating' ? [database.role, alternateOf(database.role)] : [database.role];
    if (!logins.includes(username)) return `username "${username}" is not ${logins.map((l) => `"${l}"`).join(' or ')}`;
  }
  const login = username ?? database?.role;
  return { type: 'password', password, ...(login && { login }), createdAt: now.toISOString(), specHash, adopted: true };
}
