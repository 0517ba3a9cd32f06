// `rekey truststore`: the CA bundle a TLS terminator checking client certificates (API Gateway's mutual TLS
// truststore) needs for POST /v1/enrol/renew, read from the store; during the profile CA's rotation it holds the old
// and the new CA. openssl verifies enrolled certificates against it as API Gateway would.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeStep, startRotation } from '../../../../shared/app/rotation/index.js';
import { splitPemChain } from '../../../../shared/domain/pki/pem.js';
import { RotationStatus, Trigger } from '../../../../shared/domain/rotation/record.js';
import type { StepMessage } from '../../../../shared/ports/step-queue.js';
import { runMain } from '../../../fixtures/cli.js';
import { opensslCsr } from '../../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, INVENTORY, tokens, type ApiFixture } from './fixture.js';

const TEXT = `${INVENTORY}enrol:
  - {name: backup-clients, issuer: root, usage: client, allowedNames: ["*.backup.internal"], validity: 720h, tokenScope: "enrol:backup-clients"}
`;

let root: string;
let f: ApiFixture;
let n = 0;

/** Enrols a fresh openssl key under backup-clients through the router; returns the certificate (PEM). */
async function enrolled(): Promise<string> {
  const { csr } = opensslCsr(root, `k${n++}`, '/CN=db1.backup.internal');
  const token = await tokens(f.inventory.name, f.key).valid({ sub: 'pem-agent', scope: 'enrol:backup-clients' });
  const res = await f.api.router({
    method: 'POST',
    path: '/v1/enrol',
    query: new URLSearchParams(),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: Buffer.from(JSON.stringify({ profile: 'backup-clients', csr })),
    client: '192.0.2.9',
  });
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { certificate: string }).certificate;
}

/** `openssl verify` of a client certificate against a truststore file: what API Gateway's mutual TLS checks. */
function verifies(truststore: string, cert: string): boolean {
  const file = join(root, `client${n++}.pem`);
  writeFileSync(file, cert);
  try {
    execFileSync('openssl', ['verify', '-CAfile', truststore, '-purpose', 'sslclient', file], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const truststore = (out: string, ...more: string[]) =>
  runMain(['--state', f.rt.stateDir, 'truststore', '-f', join(root, 'inv.yaml'), '--out', out, ...more], {
    REKEY_VAULT_KEY: f.rt.key.toString('hex'),
  });

beforeEach(async () => {
  root = await makeTempDir('rekey-truststore-');
  f = await apiFixture(root, { text: TEXT, router: { rateLimit: false } });
  writeFileSync(join(root, 'inv.yaml'), TEXT);
});
afterEach(() => removeTempDir(root));

describe('rekey truststore', () => {
  it("writes the profile CA's certificate, against which openssl verifies an enrolled client certificate; a server certificate of another CA does not", async () => {
    // Prepare
    const client = await enrolled();
    const out = join(root, 'truststore.pem');
    // Act
    const res = await truststore(out);
    const json = await runMain(
      ['--state', f.rt.stateDir, '--json', 'truststore', '-f', join(root, 'inv.yaml'), '--out', join(root, 'again.pem')],
      { REKEY_VAULT_KEY: f.rt.key.toString('hex') },
    );
    // Assess
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('1 CA certificate(s) of root for profile(s) backup-clients');
    expect(res.stdout).toContain('aws s3api put-object');
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain('PRIVATE KEY');
    expect(new X509Certificate(text).ca).toBe(true);
    expect(verifies(out, client)).toBe(true);
    const other = execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=x'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    expect(verifies(out, other)).toBe(false);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ certificates: 1, authorities: ['root'], profiles: ['backup-clients'] });
    // Canonical: the same store gives the same bytes.
    expect(readFileSync(join(root, 'again.pem'), 'utf8')).toBe(text);
  });

  it("during the profile CA's rotation holds the old and the new CA (clients of either verify), and after drop-old still the old one, which a renewal accepts", async () => {
    // Prepare: rotate the CA up to its drop step, holding that step back (the overlap).
    const before = await enrolled();
    const record = await startRotation(f.rt.deps, f.inventory, 'root', { trigger: Trigger.Manual, reason: 'test' });
    let held: StepMessage | undefined;
    await f.rt.queue.drain(async (m) => {
      if (m.step === 'drop-old' && !held) held = m;
      else await executeStep(f.rt.deps, f.inventory, m);
    });
    expect(held?.rotationId).toBe(record.id);
    const during = await enrolled();
    // Act
    const overlap = await truststore(join(root, 'overlap.pem'));
    await executeStep(f.rt.deps, f.inventory, held!);
    await f.rt.queue.drain((m) => executeStep(f.rt.deps, f.inventory, m).then(() => undefined));
    const dropped = await truststore(join(root, 'dropped.pem'));
    // Assess
    expect((await f.rt.deps.journal.get(record.id))?.status).toBe(RotationStatus.Completed);
    expect(overlap.code, overlap.stderr).toBe(0);
    expect(overlap.stdout).toContain('2 CA certificate(s)');
    // Two CAs, one signed the client from before the rotation, the other the one enrolled after its promotion.
    const cas = splitPemChain(readFileSync(join(root, 'overlap.pem'), 'utf8')).map((c) => new X509Certificate(c));
    const signer = (cert: string) => cas.findIndex((ca) => new X509Certificate(cert).verify(ca.publicKey));
    expect(cas).toHaveLength(2);
    expect([signer(before), signer(during)].sort()).toEqual([0, 1]);
    expect(verifies(join(root, 'overlap.pem'), before)).toBe(true);
    expect(verifies(join(root, 'overlap.pem'), during)).toBe(true);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(verifies(join(root, 'dropped.pem'), before)).toBe(true);
    expect(verifies(join(root, 'dropped.pem'), during)).toBe(true);
  });

  it('refuses an unknown profile, an inventory without enrolment profiles and a missing --out (exit 2)', async () => {
    // Prepare
    writeFileSync(join(root, 'plain.yaml'), INVENTORY);
    const env = { REKEY_VAULT_KEY: f.rt.key.toString('hex') };
    // Act
    const unknown = await truststore(join(root, 'x.pem'), '--profile', 'nobody');
    const none = await runMain(['--state', f.rt.stateDir, 'truststore', '-f', join(root, 'plain.yaml'), '--out', join(root, 'y.pem')], env);
    const noOut = await runMain(['--state', f.rt.stateDir, 'truststore', '-f', join(root, 'inv.yaml')], env);
    // Assess
    expect([unknown.code, none.code, noOut.code]).toEqual([2, 2, 2]);
    expect(unknown.stderr).toContain('unknown enrolment profile(s): nobody');
    expect(none.stderr).toContain('has no enrolment profiles');
    expect(noOut.stderr).toContain("required option '--out <file>' not specified");
  });
});
