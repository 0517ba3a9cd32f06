import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OwnCaIssuer } from '../../../../shared/adapters/issuers/own-ca-issuer.js';
import { SigningPool, signingWorkersFrom, type SigningPoolOptions } from '../../../../shared/adapters/signing-pool/pool.js';
import { UsageError } from '../../../../shared/domain/errors.js';
import { leafMaterial } from '../../../../shared/app/issuers/leaf.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { checkCertificateMaterial } from '../../../../shared/domain/pki/check.js';
import { issueMaterial, issuerMaterialOf, type IssuerMaterial } from '../../../../shared/domain/pki/issue.js';
import { issuedFactsOf } from '../../../../shared/domain/pki/issued.js';
import type { LeafOrder } from '../../../../shared/domain/pki/leaf-issue.js';
import type { CertificateMaterial } from '../../../../shared/domain/store/material.js';
import { specHashOf, type Unit } from '../../../../shared/domain/units.js';
import type { IssueContext } from '../../../../shared/ports/issuer.js';
import type { LeafOffload } from '../../../../shared/ports/leaf-offload.js';
import { REPO_ROOT } from '../../../fixtures/cli.js';
import { openssl, run } from '../../../fixtures/openssl.js';
import { issueAuthorities, pkiInventory, unitOf } from '../../../fixtures/pki.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const NOW = new Date();
const LATER = new Date(NOW.getTime() + 2161 * 3_600_000);

let dir: string;
let inventory: Inventory;
let cas: { root: IssuerMaterial; inter: IssuerMaterial; otherRoot: IssuerMaterial };
const pools: SigningPool[] = [];

beforeAll(async () => {
  dir = await makeTempDir('rekey-sign-pool-');
  inventory = pkiInventory();
  cas = issueAuthorities(inventory, NOW);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await removeTempDir(dir);
});

/** A pool that offloads from the first leaf on (closed after the file). */
function pool(options: Partial<SigningPoolOptions> = {}): SigningPool {
  const p = new SigningPool({ workers: 1, inProcessLeaves: 0, ...options });
  pools.push(p);
  return p;
}

/** Issues `unit` through rekey's own CA as apply does, with `offload` (or in process without it). */
function issue(unit: Unit, offload: LeafOffload | undefined, issuer: IssuerMaterial = cas.inter): Promise<CertificateMaterial> {
  if (unit.item.kind !== 'certificate') throw new Error(`${unit.key} is not a certificate`);
  const authority = inventory.authorities.find((a) => a.name === issuer.name)!;
  const ctx: IssueContext = {
    now: NOW,
    materials: { issuer: () => Promise.resolve(issuer), authorityCurrent: () => Promise.resolve(undefined) },
    ...(offload && { offload }),
  };
  return leafMaterial(new OwnCaIssuer(authority), unit, specHashOf(unit), `v-${unit.key}`, ctx);
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('SigningPool (own-CA leaves on worker threads)', () => {
  it.each([
    { name: 'web', issuer: 'inter', keys: 'RSA-2048 under Ed25519' },
    { name: 'client', issuer: 'inter', keys: 'ECDSA-P256 under Ed25519' },
    { name: 'both', issuer: 'root', keys: 'Ed25519 under ECDSA-P384' },
  ] as const)('makes $name ($keys) on a worker: openssl verifies it against the CA and its key matches', async ({ name, issuer }) => {
    // Prepare
    const p = pool();
    const unit = unitOf(inventory, name);
    // Act
    const m = await issue(unit, p, cas[issuer]);
    // Assess
    expect(p.running).toBe(1);
    expect(issuedFactsOf(m)?.signatureVerified).toBe(true);
    const leaf = file(`${name}.crt`, m.cert);
    const verified = openssl([
      'verify',
      '-CAfile',
      file(`${name}-ca.pem`, m.ca),
      ...(m.chain ? ['-untrusted', file(`${name}-chain.pem`, m.chain)] : []),
      leaf,
    ]);
    expect(verified.stderr).toBe('');
    expect(verified.stdout.trim()).toBe(`${leaf}: OK`);
    const fromKey = openssl(['pkey', '-pubout', '-in', file(`${name}.key`, m.key)]);
    const fromCert = openssl(['x509', '-pubkey', '-noout', '-in', leaf]);
    expect(fromKey.status).toBe(0);
    expect(fromKey.stdout).toBe(fromCert.stdout);
    expect(checkCertificateMaterial(unit, m, NOW)).toEqual([]);
  });

  it('returns material of the same form as the in-process path, whose check passes the same way', async () => {
    // Prepare
    const unit = unitOf(inventory, 'db', 1);
    // Act
    const [pooled, inProcess] = await Promise.all([issue(unit, pool()), issue(unit, undefined)]);
    // Assess
    expect(Object.keys(pooled).sort()).toEqual(Object.keys(inProcess).sort());
    const { cert, key, serial, fingerprint, ...same } = pooled;
    const { cert: cert2, key: key2, serial: serial2, fingerprint: fingerprint2, ...same2 } = inProcess;
    expect(same).toEqual(same2);
    expect(cert).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    expect(cert.length).toBe(cert2.length);
    expect(key.split('\n')[0]).toBe(key2.split('\n')[0]);
    expect(key.length).toBe(key2.length);
    expect(serial).toMatch(/^[0-9a-f]+$/);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect([serial2, fingerprint2].every(Boolean)).toBe(true);
    expect(issuedFactsOf(inProcess)?.signatureVerified).toBeUndefined();
    expect(checkCertificateMaterial(unit, pooled, NOW)).toEqual([]);
    expect(checkCertificateMaterial(unit, inProcess, NOW)).toEqual([]);
  });

  it('answers many leaves in a few messages, at most 16 to a message, each leaf once', async () => {
    // Prepare: count the answers of each message the pool receives from its worker
    const batches: number[] = [];
    const realOn = Worker.prototype.on;
    const spy = vi.spyOn(Worker.prototype, 'on').mockImplementation(function (
      this: Worker,
      event: string | symbol,
      listener: (...a: any[]) => void,
    ) {
      if (event !== 'message') return realOn.call(this, event, listener);
      return realOn.call(this, event, (answers: unknown[]) => {
        batches.push(answers.length);
        listener(answers);
      });
    });
    const p = pool();
    const unit = unitOf(inventory, 'client');
    // Act
    const made = await Promise.all(Array.from({ length: 40 }, () => issue(unit, p)));
    spy.mockRestore();
    // Assess
    expect(new Set(made.map((m) => m.serial)).size).toBe(40);
    expect(made.every((m) => issuedFactsOf(m)?.signatureVerified)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(40);
    expect(Math.max(...batches)).toBeLessThanOrEqual(16);
    expect(batches.length).toBeLessThanOrEqual(20);
  });

  it('answers with the signed bytes and signature alone, not the 8 KiB pool buffer they were made in', async () => {
    // Prepare
    const unit = unitOf(inventory, 'client');
    // Act
    const [pooled, inProcess] = await Promise.all([issue(unit, pool()), issue(unit, undefined)]);
    // Assess: in process the bytes are views into Node's buffer pool; what crossed the thread owns its memory
    const crossed = issuedFactsOf(pooled)!;
    const made = issuedFactsOf(inProcess)!;
    expect(made.tbs.buffer.byteLength).toBeGreaterThan(made.tbs.byteLength);
    expect(crossed.tbs.buffer.byteLength).toBe(crossed.tbs.byteLength);
    expect(crossed.signature.buffer.byteLength).toBe(crossed.signature.byteLength);
    expect(Buffer.isBuffer(crossed.tbs) && Buffer.isBuffer(crossed.signature)).toBe(true);
    expect(new X509Certificate(pooled.cert).raw.includes(crossed.tbs)).toBe(true);
  });

  it("trusts the worker's signature check only with the facts of the material it returned: a copy is parsed", async () => {
    // Prepare: an issuer vouched for by a first leaf, then a pooled leaf of the same shape
    const unit = unitOf(inventory, 'client');
    const issuer = { ...cas.inter };
    expect(checkCertificateMaterial(unit, issueMaterial(unit, issuer, NOW, specHashOf(unit)), NOW)).toEqual([]);
    const m = await issue(unit, pool(), issuer);
    // Act
    const asReturned = checkCertificateMaterial(unit, m, LATER);
    const asCopied = checkCertificateMaterial(unit, { ...m }, LATER);
    // Assess: the parsed check words dates as OpenSSL does, the check from build values in ISO 8601
    expect(asReturned.join('; ')).toMatch(/not valid now \(\d{4}-\d\d-\d\dT/);
    expect(asCopied.join('; ')).toMatch(/not valid now \([A-Z][a-z]{2} /);
  });

  it("refuses a leaf whose signature the worker found not to verify under the issuer's certificate", async () => {
    // Prepare: the vouched issuer object then signs with a key that is not its certificate's
    const unit = unitOf(inventory, 'client');
    const issuer = { ...cas.inter };
    expect(checkCertificateMaterial(unit, issueMaterial(unit, issuer, NOW, specHashOf(unit)), NOW)).toEqual([]);
    (issuer as { signer: IssuerMaterial['signer'] }).signer = { ...issuer.signer, privateKey: cas.otherRoot.signer.privateKey };
    // Act
    const forged = await issue(unit, pool(), issuer);
    // Assess
    expect(issuedFactsOf(forged)?.signatureVerified).toBe(false);
    expect(checkCertificateMaterial(unit, forged, NOW)).toContain("signature does not verify under the issuer's certificate");
  });

  it('sends a CA read again (a new object, as each request of rekey serve reads it) to its worker once', async () => {
    // Prepare: fifty requests, each with its own issuer object of the same CA version
    const p = pool();
    const unit = unitOf(inventory, 'client');
    const reread = () => issuerMaterialOf(cas.inter.name, cas.inter.material, false);
    // Act
    const leaves = await Promise.all(Array.from({ length: 50 }, () => issue(unit, p, reread())));
    // Assess
    expect(leaves.every((m) => issuedFactsOf(m)?.signatureVerified === true)).toBe(true);
    expect(p.issuerMessages).toEqual({ sent: 1, forgotten: 0 });
  });

  it('holds at most issuersPerWorker issuer keys on a worker, and sends a dropped one again when it signs again', async () => {
    // Prepare: three CAs in turns through a worker that holds two
    const p = pool({ issuersPerWorker: 2 });
    const turns = (['root', 'inter', 'otherRoot', 'root', 'inter', 'otherRoot', 'otherRoot'] as const).map((ca) => cas[ca]);
    const unit = unitOf(inventory, 'client');
    // Act
    const leaves = [];
    for (const issuer of turns) leaves.push(await issue(unit, p, { ...issuer, signer: { ...issuer.signer } }));
    // Assess: each leaf made on the worker under its own CA; the last reuses the key still held
    leaves.forEach((m, i) => {
      expect(issuedFactsOf(m)?.signatureVerified).toBe(true);
      expect(new X509Certificate(m.cert).checkIssued(new X509Certificate(turns[i]!.material.cert))).toBe(true);
    });
    const { sent, forgotten } = p.issuerMessages;
    expect({ sent, forgotten }).toEqual({ sent: 6, forgotten: 4 });
    expect(sent - forgotten).toBeLessThanOrEqual(2);
  });

  it('does not take a signer with the certificate of a CA already sent but another key for that CA', async () => {
    // Prepare: the CA sent once, then an object with its certificate and a stranger's key
    const p = pool();
    const unit = unitOf(inventory, 'client');
    await issue(unit, p, cas.inter);
    const forged = { ...cas.inter, signer: { ...cas.inter.signer, privateKey: cas.otherRoot.signer.privateKey } };
    // Act
    const m = await issue(unit, p, forged);
    // Assess: the stranger's key signed (so the check fails), not the held key of the real CA
    expect(issuedFactsOf(m)?.signatureVerified).toBe(false);
    expect(p.issuerMessages.sent).toBe(2);
  });

  it('makes the first leaves in process and starts no worker for them', async () => {
    // Prepare
    const p = pool({ inProcessLeaves: 2 });
    const unit = unitOf(inventory, 'client');
    // Act
    const first = await Promise.all([issue(unit, p), issue(unit, p)]);
    const startedBefore = p.running;
    const third = await issue(unit, p);
    // Assess
    expect(first.map((m) => issuedFactsOf(m)?.signatureVerified)).toEqual([undefined, undefined]);
    expect(startedBefore).toBe(0);
    expect(issuedFactsOf(third)?.signatureVerified).toBe(true);
    expect(p.running).toBe(1);
  });

  it('makes a leaf in process when every worker already holds its share', async () => {
    // Prepare
    const p = pool({ leavesPerWorker: 1 });
    const unit = unitOf(inventory, 'client');
    // Act
    const both = await Promise.all([issue(unit, p), issue(unit, p)]);
    // Assess: the first went to the worker, the second was made here meanwhile
    expect(both.map((m) => issuedFactsOf(m)?.signatureVerified)).toEqual([true, undefined]);
  });

  it('fails the leaves of a worker that stops with a clear error, then makes later leaves in process', async () => {
    // Prepare
    const p = pool({ entry: { url: new URL('../../../fixtures/dying-sign-worker.mjs', import.meta.url) } });
    const unit = unitOf(inventory, 'client');
    // Act
    const results = await Promise.allSettled([issue(unit, p), issue(unit, p), issue(unit, p)]);
    const after = await issue(unit, p);
    // Assess
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(String((r as PromiseRejectedResult).reason)).toMatch(
        /client: the signing worker stopped \(exit code 3\); the leaf was not issued/,
      );
    }
    expect(p.running).toBe(0);
    expect(issuedFactsOf(after)?.signatureVerified).toBeUndefined();
    expect(checkCertificateMaterial(unit, after, NOW)).toEqual([]);
  });

  it('fails the leaves of a worker that cannot start instead of waiting for it', async () => {
    // Prepare
    const p = pool({ entry: { url: new URL('file:///nonexistent/rekey-sign-worker.mjs') } });
    // Act
    const result = issue(unitOf(inventory, 'client'), p);
    // Assess
    await expect(result).rejects.toThrow(/the signing worker stopped \(exit code 1: Cannot find module/);
  });

  it('stops its workers on close: leaves in flight fail, later ones are made in process', async () => {
    // Prepare
    const p = pool();
    const unit = unitOf(inventory, 'client');
    await issue(unit, p);
    const order: LeafOrder = {
      keyType: 'ECDSA-P256',
      subject: { commonName: 'in-flight' },
      notBefore: NOW,
      notAfter: LATER,
      profile: { kind: 'leaf', usage: 'server', altNames: { dnsNames: [], ipAddresses: [], uris: [] } },
    };
    const inFlight = expect(p.make(order, cas.inter.signer)).rejects.toThrow(/the signing pool was closed; the leaf was not issued/);
    // Act
    await p.close();
    // Assess
    expect(p.running).toBe(0);
    await inFlight;
    expect(p.make(order, cas.inter.signer)).toBeUndefined();
    expect(issuedFactsOf(await issue(unit, p))?.signatureVerified).toBeUndefined();
  });

  it('does not keep a process alive once its leaves are made, closed or not', async () => {
    // Act
    const r = await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/fixtures/sign-pool-unclosed.ts')], {
      cwd: REPO_ROOT,
      timeoutMs: 60_000,
    });
    // Assess: killed at the timeout, it would have no exit status
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('made 3\n');
    expect(r.status).toBe(0);
  });
});

describe('signingWorkersFrom (REKEY_SIGN_WORKERS)', () => {
  it.each([
    { value: undefined, workers: Math.max(1, availableParallelism() - 1) },
    { value: '', workers: Math.max(1, availableParallelism() - 1) },
    { value: '0', workers: 0 },
    { value: ' 3 ', workers: 3 },
  ])('reads $value as $workers', ({ value, workers }) => {
    expect(signingWorkersFrom({ REKEY_SIGN_WORKERS: value })).toBe(workers);
  });

  it.each(['-1', 'two', '1.5', '10000'])('refuses %s as a usage error', (value) => {
    expect(() => signingWorkersFrom({ REKEY_SIGN_WORKERS: value })).toThrow(UsageError);
  });
});
