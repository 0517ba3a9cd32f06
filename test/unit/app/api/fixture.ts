import { request } from 'node:https';
import { createPublicKey } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { newJwtSigningJwks } from '../../../../shared/domain/credentials/jwk-pair.js';
import { createApi, type Api } from '../../../../shared/app/api/index.js';
import { leveledJsonLogger, type LeveledLogger } from '../../../../shared/app/api/json-logger.js';
import { ensureApiSigningKey, TOKEN_AUDIENCE, tokenIssuer } from '../../../../shared/app/api/signing-key.js';
import type { SigningKeyMaterial } from '../../../../shared/domain/store/material.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { apply } from '../../../../shared/app/apply.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import type { RouterOptions } from '../../../../shared/app/api/router.js';

export const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities:
  - {name: root, commonName: root, key: ECDSA-P256}
certificates:
  - {name: web, issuer: root, usage: server, commonName: web, dnsNames: [web], secret: {name: web, namespace: shop}}
`;

export interface ApiFixture {
  readonly inventory: Inventory;
  readonly rt: TestRuntime;
  readonly api: Api;
  readonly logger: LeveledLogger;
  readonly logLines: string[];
  readonly key: SigningKeyMaterial;
}

/** An applied inventory in a temp folder, the API signing key in its store, and the API over it. */
export async function apiFixture(
  root: string,
  options: { router?: Omit<RouterOptions, 'backend' | 'verifier'>; text?: string } = {},
): Promise<ApiFixture> {
  const inventory = loadInventory(options.text ?? INVENTORY);
  const rt = localRuntime(inventory, root);
  await apply(rt.deps, inventory);
  const logLines: string[] = [];
  const logger = leveledJsonLogger({ level: 'debug', write: (l) => logLines.push(l) });
  const deps = { ...rt.deps, log: logger };
  const { material: key } = await ensureApiSigningKey(rt.store, inventory.name);
  const api = createApi({
    inventory,
    deps,
    runtime: 'serve',
    logger,
    keySetTtlSeconds: 0,
    ...(options.router && { router: options.router }),
  });
  return { inventory, rt: { ...rt, deps }, api, logger, logLines, key };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export interface Claims {
  iss?: string;
  aud?: string;
  sub?: string;
  scope?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
}

/** Tokens good and bad, signed as an attacker or a client would. */
export function tokens(inventory: string, key: SigningKeyMaterial) {
  const now = Math.floor(Date.now() / 1000);
  const base = (c: Claims = {}): Claims => ({
    iss: tokenIssuer(inventory),
    aud: TOKEN_AUDIENCE,
    sub: 'tester',
    scope: 'items:read',
    iat: now,
    nbf: now,
    exp: now + 600,
    ...c,
  });
  const sign = async (claims: Claims, signer: { jwk: Record<string, unknown>; alg: string; kid: string }) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT' })
      .sign(await importJWK(signer.jwk as JWK, signer.alg));
  return {
    base,
    valid: (c: Claims = {}) => sign(base(c), key),
    algNone: () =>
      `${b64({ alg: 'none', typ: 'JWT', kid: key.kid })}.${b64(base({ scope: 'items:read metrics:read rotations:write log:write' }))}.`,
    /** Algorithm confusion: HS256 with the server's public key (PEM) as the HMAC secret. */
    hs256WithPublicKey: async () => {
      const pem = createPublicKey({ key: key.keySet[0] as JWK as never, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
      return new SignJWT({ ...base({ scope: 'items:read metrics:read rotations:write' }) })
        .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(pem));
    },
    otherKey: async (kid: string) => {
      const { jwk } = await newJwtSigningJwks('ES256');
      return sign(base(), { jwk: { ...jwk }, alg: 'ES256', kid });
    },
  };
}

export interface Sent {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface Outgoing {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

/** One HTTPS request to a local server trusting its certificate; a refused upload still yields the response. */
export function httpsSend(port: number, ca: string, req: Outgoing): Promise<Sent> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const r = request(
      { host: '127.0.0.1', port, servername: 'localhost', ca, method: req.method, path: req.path, headers: req.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          settled = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    r.on('error', (e) => {
      if (!settled) setTimeout(() => (settled ? undefined : reject(e)), 200);
    });
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}
