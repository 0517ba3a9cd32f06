// Probes against the real servers of the test infrastructure: Apache with client-certificate auth (seed 004's
// proxy) and PostgreSQL over STARTTLS. rekey issues a CA, the servers' certificates and client certificates into
// their files and reloads them; then verifyServed checks what they serve, which client certificates they accept,
// and that an endpoint with no answer fails at its deadline. A rotation of the proxy certificate passes its
// verify step only through the probe.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { ExpectationKind, Mismatch, probeServed, verifyServed, type ProbedItem } from '../../../shared/app/verify/index.js';
import { VerificationError } from '../../../shared/app/rotation/errors.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { decodeMaterial, type CertificateMaterial } from '../../../shared/domain/store/material.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import { ProbeFailure } from '../../../shared/ports/prober.js';
import { runMain } from '../../fixtures/cli.js';
import { loadInfraEnv, runReload } from '../../infra/env.js';

const env = loadInfraEnv({ require: ['proxy', 'postgres'] });
const work = mkdtempSync(join(tmpdir(), 'rekey-probe-it-'));
const state = join(work, 'state');
const inventoryFile = join(work, 'probes.yaml');
const proxyPort = Number(new URL(env.proxy.url).port);
let silent: Server;
let silentPort: number;
let closedPort: number;
const silentSockets = new Set<Socket>();
let inventory: Inventory;

const inventoryText = () => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: probe-it}
authorities:
  - name: proxy-ca
    commonName: probe-it proxy CA
    key: ECDSA-P384
    files: {dir: ${env.proxy.tlsDir}, cert: client-ca.crt, mode: "0644", reload: "${env.proxy.reloadCmd}"}
    probe: [{tls: "127.0.0.1:${proxyPort}", serverName: localhost, clientCert: backup-client}]
  - name: db-ca
    commonName: probe-it db CA
    files: {dir: ${env.postgres.tlsDir}, cert: root.crt, mode: "0644", reload: "${env.postgres.reloadCmd}"}
  - name: other-ca
    commonName: probe-it foreign CA
certificates:
  - name: proxy-server
    issuer: proxy-ca
    usage: server
    key: RSA-2048
    commonName: localhost
    dnsNames: [localhost]
    ipAddresses: [127.0.0.1]
    files: {dir: ${env.proxy.tlsDir}, cert: server.crt, key: server.key, mode: "0600", reload: "${env.proxy.reloadCmd}"}
    probe: [{tls: "localhost:${proxyPort}", clientCert: backup-client, timeout: 10s}]
  - name: backup-client
    issuer: proxy-ca
    usage: client
    key: RSA-2048
    commonName: backup-client
    files: {dir: ${work}/clients, cert: backup-client.crt, key: backup-client.key, mode: "0600"}
    probe: [{tls: "127.0.0.1:${proxyPort}", serverName: localhost}]
  - name: stranger
    issuer: other-ca
    usage: client
    commonName: stranger
    files: {dir: ${work}/clients, cert: stranger.crt, key: stranger.key, mode: "0600"}
    probe: [{tls: "127.0.0.1:${proxyPort}", serverName: localhost}]
  - name: db-server
    issuer: db-ca
    usage: server
    commonName: localhost
    dnsNames: [localhost]
    files: {dir: ${env.postgres.tlsDir}, cert: server.crt, key: server.key, mode: "0600", reload: "${env.postgres.reloadCmd}"}
    probe: [{tls: "127.0.0.1:${env.postgres.port}", startTls: postgres, timeout: 10s}]
  - name: silent-server
    issuer: proxy-ca
    usage: server
    commonName: silent
    files: {dir: ${work}/silent}
    probe: [{tls: "127.0.0.1:${silentPort}", timeout: 2s}, {tls: "127.0.0.1:${closedPort}", timeout: 2s}]
`;

/** The deps of the CLI's composition (file vault in `state`, TLS prober), read-only. */
async function deps() {
  return (await composeLocal(inventory, { stateDir: state, target: { kind: 'none' }, log: silentLogger, readOnly: true })).deps;
}
const item = (name: string) => inventory.items.get(name) as ProbedItem;
async function material(name: string): Promise<CertificateMaterial> {
  const v = (await (await deps()).store.getVersion(`rekey/probe-it/${name}`))!;
  return decodeMaterial(v.value, name) as CertificateMaterial;
}

beforeAll(async () => {
  silent = createServer((s) => {
    silentSockets.add(s);
    s.on('close', () => silentSockets.delete(s));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  writeFileSync(inventoryFile, inventoryText());
  inventory = loadInventory(inventoryText());
  const applied = await runMain(['apply', '-f', inventoryFile, '--state', state]);
  expect(applied.code, applied.stdout + applied.stderr).toBe(0);
});

afterAll(async () => {
  // Give both servers back the certificates the infrastructure started them with.
  const proxyPki = join(env.proxy.initCa, '..');
  copyFileSync(join(proxyPki, 'server.crt'), join(env.proxy.tlsDir, 'server.crt'));
  copyFileSync(join(proxyPki, 'server.key'), join(env.proxy.tlsDir, 'server.key'));
  copyFileSync(join(proxyPki, 'ca.crt'), join(env.proxy.tlsDir, 'client-ca.crt'));
  await runReload(env.proxy.reloadCmd);
  const pgPki = join(env.postgres.initCa, '..');
  copyFileSync(join(pgPki, 'server.crt'), join(env.postgres.tlsDir, 'server.crt'));
  copyFileSync(join(pgPki, 'server.key'), join(env.postgres.tlsDir, 'server.key'));
  copyFileSync(join(pgPki, 'ca.crt'), join(env.postgres.tlsDir, 'root.crt'));
  await runReload(env.postgres.reloadCmd);
  for (const s of silentSockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

describe('probes against Apache (client-certificate proxy)', () => {
  it('the proxy serves the current proxy-server certificate, and accepts backup-client', async () => {
    // Act
    const report = await verifyServed(await deps(), inventory, item('proxy-server'));
    // Assess
    expect(report.outcomes).toEqual([
      {
        endpoint: `localhost:${proxyPort}`,
        ok: true,
        servedFingerprint: (await material('proxy-server')).fingerprint,
        protocol: 'TLSv1.2',
        clientCert: 'backup-client',
        clientCertAccepted: true,
      },
    ]);
  });

  it('the served chain ends at proxy-ca, and not at another CA', async () => {
    // Act
    const atCa = await verifyServed(await deps(), inventory, item('proxy-ca'));
    const atOther = await probeServed(await deps(), inventory, item('proxy-ca'), {
      kind: ExpectationKind.Chain,
      authorities: [(await material('other-ca')).cert],
    });
    // Assess
    expect(atCa.ok).toBe(true);
    expect(atOther.outcomes[0]).toMatchObject({ ok: false, failure: Mismatch.Chain });
  });

  it('a client certificate of a CA the proxy does not trust is refused', async () => {
    // Act
    const accepted = await verifyServed(await deps(), inventory, item('backup-client'));
    const refused = await probeServed(await deps(), inventory, item('stranger'));
    // Assess
    expect(accepted.outcomes[0]).toMatchObject({ ok: true, clientCert: 'backup-client', clientCertAccepted: true });
    expect(refused.outcomes[0]).toMatchObject({ ok: false, clientCert: 'stranger', failure: ProbeFailure.ClientCertificateRefused });
    expect(refused.outcomes[0]!.problem).toMatch(/refused the client certificate \(ERR_SSL_/);
  });

  it('rotate proxy-server: the verify step passes because the proxy serves the new certificate', async () => {
    // Prepare
    const before = (await material('proxy-server')).fingerprint;
    // Act
    const rotated = await runMain(['rotate', 'proxy-server', '-f', inventoryFile, '--state', state, '--json']);
    // Assess
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const after = await material('proxy-server');
    expect(after.fingerprint).not.toBe(before);
    const report = await verifyServed(await deps(), inventory, item('proxy-server'));
    expect(report.outcomes[0]!.servedFingerprint).toBe(after.fingerprint);
  });
});

describe('probes against PostgreSQL (STARTTLS)', () => {
  it('PostgreSQL serves the current db-server certificate after SSLRequest; its chain ends at db-ca', async () => {
    // Act
    const report = await verifyServed(await deps(), inventory, item('db-server'));
    const chain = await verifyServed(await deps(), inventory, item('db-server'), {
      kind: ExpectationKind.Chain,
      authorities: [(await material('db-ca')).cert],
    });
    const foreign = await probeServed(await deps(), inventory, item('db-server'), {
      kind: ExpectationKind.Chain,
      authorities: [(await material('other-ca')).cert],
    });
    // Assess
    expect(report.outcomes).toEqual([
      {
        endpoint: `127.0.0.1:${env.postgres.port}`,
        ok: true,
        servedFingerprint: (await material('db-server')).fingerprint,
        protocol: 'TLSv1.3',
      },
    ]);
    expect(chain.ok).toBe(true);
    expect(foreign.outcomes[0]).toMatchObject({ ok: false, failure: Mismatch.Chain });
  });
});

describe('endpoints that do not answer', () => {
  it('fail: a listener that never speaks TLS at its deadline, a closed port at once', async () => {
    // Act
    const error = await verifyServed(await deps(), inventory, item('silent-server')).catch((e: unknown) => e);
    const report = await probeServed(await deps(), inventory, item('silent-server'));
    // Assess
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as Error).message).toMatch(/^silent-server: 2 of 2 probe\(s\) failed: /);
    expect(report.outcomes[0]).toMatchObject({
      ok: false,
      failure: ProbeFailure.Timeout,
      problem: 'no answer within 2s while TLS handshake',
    });
    expect(report.outcomes[1]).toMatchObject({ ok: false, failure: ProbeFailure.Unreachable });
  });
});
