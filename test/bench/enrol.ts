/**
 * CSR enrolment through the API router (as `rekey serve` and the api Lambda run it) on the embedded file vault:
 * time per enrolment (token), per renewal (client certificate as proof), per revocation, and for the profile's CRL
 * built from every record (first request) and reused (later requests). CSRs are made before timing.
 *
 *   npx tsx test/bench/enrol.ts
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiRequest } from '../../shared/app/api/http.js';
import { buildCsr } from '../../shared/domain/pki/csr.js';
import { apiFixture, INVENTORY, tokens } from '../unit/app/api/fixture.js';

const N = 200;
const root = mkdtempSync(join(tmpdir(), 'rekey-bench-enrol-'));
const text = `${INVENTORY}enrol:
  - {name: agents, issuer: root, usage: client, allowedNames: ["*.agents.internal"], validity: 720h, tokenScope: "enrol:agents"}
`;

async function main(): Promise<void> {
  const f = await apiFixture(root, { text, router: { rateLimit: false } });
  const token = await tokens(f.inventory.name, f.key).valid({ sub: 'bench', scope: 'enrol:agents enrol:agents:revoke' });
  const call = async (method: string, path: string, body?: unknown, cert?: string) => {
    const req: ApiRequest = {
      method,
      path,
      query: new URLSearchParams(),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      ...(body !== undefined && { body: Buffer.from(JSON.stringify(body)) }),
      client: '127.0.0.1',
      ...(cert && { clientCertificate: cert }),
    };
    const res = await f.api.router(req);
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.body}`);
    return res;
  };
  const csrs = Array.from({ length: N }, (_, i) => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const name = `a${i}.agents.internal`;
    return buildCsr({
      subject: { commonName: name },
      privateKey: createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })),
      altNames: { dnsNames: [name], ipAddresses: [], uris: [] },
    });
  });
  const timed = async (what: string, run: () => Promise<void>, n: number) => {
    const t0 = performance.now();
    await run();
    const ms = performance.now() - t0;
    return { what, n, totalMs: Math.round(ms), perOpMs: Number((ms / n).toFixed(2)) };
  };
  const certs: { certificate: string; serial: string }[] = [];
  const results = [
    await timed(
      'enrol (token)',
      async () => {
        for (const csr of csrs)
          certs.push(
            JSON.parse((await call('POST', '/v1/enrol', { profile: 'agents', csr })).body) as { certificate: string; serial: string },
          );
      },
      N,
    ),
    await timed(
      'renew (client certificate)',
      async () => {
        for (let i = 0; i < N; i++) await call('POST', '/v1/enrol/renew', { profile: 'agents', csr: csrs[i] }, certs[i]!.certificate);
      },
      N,
    ),
    await timed(
      'revoke',
      async () => {
        for (let i = 0; i < N / 2; i++) await call('POST', '/v1/enrol/agents/revoke', { serial: certs[i]!.serial });
      },
      N / 2,
    ),
    await timed(
      'CRL, built (400 records, 100 revoked)',
      async () => {
        await call('GET', '/v1/enrol/agents/crl');
      },
      1,
    ),
    await timed(
      'CRL, reused',
      async () => {
        for (let i = 0; i < 100; i++) await call('GET', '/v1/enrol/agents/crl');
      },
      100,
    ),
  ];
  console.log(JSON.stringify({ bench: 'enrol', store: 'file vault', results }, null, 2));
}

main()
  .finally(() => rmSync(root, { recursive: true, force: true }))
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
