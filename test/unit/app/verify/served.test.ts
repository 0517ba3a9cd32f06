// verifyServed against real local TLS servers: the served leaf must be the current version, or the served chain
// must end at the expected authority; a client certificate item's probes present it and the server must accept
// it; a probe that cannot run (no prober, no answer) fails, never passes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TlsProber } from '../../../../shared/adapters/probe/tls-prober.js';
import { apply } from '../../../../shared/app/apply.js';
import { VerificationError } from '../../../../shared/app/rotation/errors.js';
import { ExpectationKind, Mismatch, probeServed, verifyServed, type ProbedItem } from '../../../../shared/app/verify/index.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { decodeMaterial, type CertificateMaterial } from '../../../../shared/domain/store/material.js';
import { ProbeFailure } from '../../../../shared/ports/prober.js';
import { pemFile } from '../../../fixtures/openssl.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { TestServers } from './servers.js';

let root: string;
let servers: TestServers;
let rt: TestRuntime;
let inventory: Inventory;
let serving: { cert: string; key: string } | undefined;
let ports: { web: number; silent: number; trusting: number; distrusting: number };

const inventoryText = (p: typeof ports) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: probes}
authorities:
  - {name: ca, commonName: probe ca, key: ECDSA-P256}
  - {name: other-ca, commonName: other ca, key: ECDSA-P256}
certificates:
  - name: web
    issuer: ca
    usage: server
    commonName: web.test
    dnsNames: [web.test]
    secret: {name: web-tls, namespace: shop}
    probe: [{tls: "127.0.0.1:${p.web}", serverName: web.test, timeout: 5s}]
  - name: slow
    issuer: ca
    usage: server
    commonName: slow.test
    secret: {name: slow-tls, namespace: shop}
    probe: [{tls: "127.0.0.1:${p.silent}", timeout: 200ms}]
  - name: agent
    issuer: ca
    usage: client
    key: RSA-2048
    commonName: agent
    secret: {name: agent-tls, namespace: shop}
    probe: [{tls: "127.0.0.1:${p.trusting}"}, {tls: "127.0.0.1:${p.distrusting}", timeout: 5s}]
  - name: stranger
    issuer: other-ca
    usage: clientserver
    commonName: stranger
    dnsNames: [stranger.test]
    secret: {name: stranger-tls, namespace: shop}
`;

const material = async (name: string) =>
  decodeMaterial((await rt.store.getVersion(`rekey/probes/${name}`))!.value, name) as CertificateMaterial;
const item = (name: string) => inventory.items.get(name) as ProbedItem;
const withProber = () => ({ ...rt.deps, prober: new TlsProber() });

beforeEach(async () => {
  root = await makeTempDir('rekey-verify-');
  servers = new TestServers();
  serving = undefined;
  ports = {
    web: await servers.tls(() => serving!),
    silent: await servers.silent(),
    trusting: await servers.freePort(),
    distrusting: await servers.freePort(),
  };
  inventory = loadInventory(inventoryText(ports));
  rt = localRuntime(inventory, root);
  await apply(rt.deps, inventory);
  // Two OpenSSL servers requiring client certificates: one trusts rekey's CA, the other a foreign one.
  const server = await material('stranger');
  const files = { certFile: pemFile(root, 's.crt', server.cert), keyFile: pemFile(root, 's.key', server.key) };
  await servers.openssl(ports.trusting, { ...files, caFile: pemFile(root, 'ca.crt', (await material('ca')).cert) });
  await servers.openssl(ports.distrusting, { ...files, caFile: pemFile(root, 'other.crt', (await material('other-ca')).cert) });
});
afterEach(async () => {
  await servers.close();
  await removeTempDir(root);
});

describe('verifyServed', () => {
  it('passes when the endpoint serves the current version of the certificate', async () => {
    // Prepare
    const web = await material('web');
    serving = { cert: web.cert + web.chain, key: web.key };
    // Act
    const report = await verifyServed(withProber(), inventory, item('web'));
    // Assess
    expect(report).toEqual({
      item: 'web',
      ok: true,
      outcomes: [{ endpoint: `127.0.0.1:${ports.web}`, ok: true, servedFingerprint: web.fingerprint, protocol: 'TLSv1.3' }],
    });
  });

  it('fails, retryably, when the endpoint serves another certificate (a server that did not reload)', async () => {
    // Prepare: the server still serves a certificate of the same CA, but not the current one
    const other = await material('stranger');
    serving = { cert: other.cert, key: other.key };
    // Act
    const error = await verifyServed(withProber(), inventory, item('web')).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).retryable).toBe(true);
    expect((error as VerificationError).message).toMatch(
      new RegExp(`^web: 1 of 1 probe\\(s\\) failed: 127\\.0\\.0\\.1:${ports.web}: serves ${other.fingerprint.slice(0, 16)}`),
    );
  });

  it('checks that the served chain ends at the expected authority, when asked', async () => {
    // Prepare
    const web = await material('web');
    serving = { cert: web.cert, key: web.key };
    // Act
    const atCa = await probeServed(withProber(), inventory, item('web'), {
      kind: ExpectationKind.Chain,
      authorities: [(await material('ca')).cert],
    });
    const atOther = await probeServed(withProber(), inventory, item('web'), {
      kind: ExpectationKind.Chain,
      authorities: [(await material('other-ca')).cert],
    });
    // Assess
    expect(atCa.ok).toBe(true);
    expect(atOther.ok).toBe(false);
    expect(atOther.outcomes[0]).toMatchObject({ ok: false, failure: Mismatch.Chain });
    expect(atOther.outcomes[0]!.problem).toMatch(/does not end at the expected authority/);
  });

  it('a client certificate item presents its current certificate: accepted where its CA is trusted, refused elsewhere', async () => {
    // Act
    const report = await probeServed(withProber(), inventory, item('agent'));
    // Assess
    expect(report.ok).toBe(false);
    expect(report.outcomes[0]).toMatchObject({
      endpoint: `127.0.0.1:${ports.trusting}`,
      ok: true,
      clientCert: 'agent',
      clientCertAccepted: true,
      protocol: 'TLSv1.2',
    });
    expect(report.outcomes[1]).toMatchObject({
      endpoint: `127.0.0.1:${ports.distrusting}`,
      ok: false,
      clientCert: 'agent',
      failure: ProbeFailure.ClientCertificateRefused,
    });
  });

  it('an endpoint with no answer fails at the probe deadline', async () => {
    // Act
    const error = await verifyServed(withProber(), inventory, item('slow')).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as Error).message).toBe(
      `slow: 1 of 1 probe(s) failed: 127.0.0.1:${ports.silent}: no answer within 0.2s while TLS handshake`,
    );
  });

  it('without a prober the probes fail rather than pass', async () => {
    // Prepare
    const web = await material('web');
    serving = { cert: web.cert, key: web.key };
    // Act
    const report = await probeServed(rt.deps, inventory, item('web'));
    // Assess
    expect(report.ok).toBe(false);
    expect(report.outcomes[0]).toMatchObject({ ok: false, failure: Mismatch.Setup });
  });

  it('an item without probes has nothing to verify', async () => {
    // Act
    const report = await verifyServed(withProber(), inventory, item('stranger'));
    // Assess
    expect(report).toEqual({ item: 'stranger', ok: true, outcomes: [] });
  });
});
