import { describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../../../shared/domain/errors.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Authority, Certificate } from '../../../../shared/domain/inventory/model.js';

const inventory = (probe: string, authorityProbe = '') => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: probes}
authorities:
  - {name: ca, commonName: ca${authorityProbe}}
certificates:
  - {name: agent, issuer: ca, usage: client, commonName: agent, secret: {name: agent, namespace: ns}}
  - {name: both, issuer: ca, usage: clientserver, commonName: both, secret: {name: both, namespace: ns}}
  - {name: db, issuer: ca, usage: clientserver, commonName: db, perReplica: {statefulSet: db, replicas: 2}, secret: {name: db, namespace: ns}}
  - {name: web, issuer: ca, usage: server, commonName: web, secret: {name: web, namespace: ns}, probe: ${probe}}
`;

const issuesOf = (text: string): string[] => {
  try {
    loadInventory(text);
  } catch (e) {
    if (e instanceof InvalidInventoryError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
};

describe('inventory: probe', () => {
  it('resolves host, port, SNI, STARTTLS, client certificate and deadline (default 10s) on certificates and authorities', () => {
    // Act
    const inv = loadInventory(
      inventory(
        '[{tls: "db.internal:5432", serverName: db, startTls: postgres, timeout: 3s}, {tls: "[::1]:8443", clientCert: agent}, {tls: "10.0.0.1:443", clientCert: both}]',
        ', probe: [{tls: "proxy:443"}]',
      ),
    );
    // Assess
    expect((inv.items.get('web') as Certificate).probes).toEqual([
      { host: 'db.internal', port: 5432, serverName: 'db', startTls: 'postgres', timeoutMs: 3000 },
      { host: '::1', port: 8443, clientCert: 'agent', timeoutMs: 10_000 },
      { host: '10.0.0.1', port: 443, clientCert: 'both', timeoutMs: 10_000 },
    ]);
    expect((inv.items.get('ca') as Authority).probes).toEqual([{ host: 'proxy', port: 443, timeoutMs: 10_000 }]);
    expect((inv.items.get('agent') as Certificate).probes).toBeUndefined();
  });

  it.each([
    ['[{tls: "no-port"}]', 'certificates[3].probe[0].tls: expected host:port ([IPv6]:port)'],
    ['[{tls: "h:70000"}]', 'certificates[3].probe[0].tls: port 70000 is out of range (1-65535)'],
    [
      '[{tls: "h:443", timeout: 0s}]',
      'certificates[3].probe[0].timeout: must be above zero: a probe without a deadline could wait forever',
    ],
    ['[{tls: "h:443", startTls: smtp}]', 'certificates[3].probe[0].startTls'],
    ['[{tls: "h:443", clientCert: nope}]', 'certificates[3].probe[0].clientCert: unknown certificate "nope"'],
    ['[{tls: "h:443", clientCert: ca}]', 'certificates[3].probe[0].clientCert: unknown certificate "ca"'],
    [
      '[{tls: "h:443", clientCert: web}]',
      'certificates[3].probe[0].clientCert: certificate "web" has usage server: it cannot authenticate a client',
    ],
    [
      '[{tls: "h:443", clientCert: db}]',
      'certificates[3].probe[0].clientCert: certificate "db" has one certificate per replica: name a single client certificate',
    ],
    ['[{tls: "h:443", insecure: true}]', 'certificates[3].probe[0]'],
  ])('rejects %s', (probe, expected) => {
    // Act
    const issues = issuesOf(inventory(probe));
    // Assess
    expect(
      issues.some((i) => i.startsWith(expected)),
      issues.join('\n'),
    ).toBe(true);
  });
});
