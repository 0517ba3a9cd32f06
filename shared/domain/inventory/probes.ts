import { parseDuration } from '../duration.js';
import type { InventoryIssue } from '../errors.js';
import type { Inventory, Probe } from './model.js';
import type { ProbeDocument } from './schema.js';

/** A probe that names no timeout waits this long for connect, STARTTLS and handshake together. */
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000;

/** `host:port` or `[v6]:port` into its parts (the schema checked the shape). */
function endpointOf(tls: string): { host: string; port: number } {
  const at = tls.lastIndexOf(':');
  const host = tls.slice(0, at);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(tls.slice(at + 1)) };
}

export function probesOf(docs: readonly ProbeDocument[]): Probe[] {
  return docs.map((d) => ({
    ...endpointOf(d.tls),
    ...(d.serverName !== undefined && { serverName: d.serverName }),
    ...(d.startTls !== undefined && { startTls: d.startTls }),
    ...(d.clientCert !== undefined && { clientCert: d.clientCert }),
    timeoutMs: (d.timeout !== undefined ? parseDuration(d.timeout) : undefined) ?? DEFAULT_PROBE_TIMEOUT_MS,
  }));
}

/** Ports in range, a deadline above zero, and a `clientCert` that names one client certificate. */
export function checkProbes(inv: Inventory): InventoryIssue[] {
  const issues: InventoryIssue[] = [];
  for (const item of [...inv.authorities, ...inv.certificates]) {
    (item.probes ?? []).forEach((p, i) => {
      const path = `${item.path}.probe[${i}]`;
      if (p.port < 1 || p.port > 65535) issues.push({ path: `${path}.tls`, message: `port ${p.port} is out of range (1-65535)` });
      if (p.timeoutMs <= 0)
        issues.push({ path: `${path}.timeout`, message: 'must be above zero: a probe without a deadline could wait forever' });
      if (p.clientCert === undefined) return;
      const named = inv.items.get(p.clientCert);
      if (!named || named.kind !== 'certificate')
        issues.push({ path: `${path}.clientCert`, message: `unknown certificate "${p.clientCert}"` });
      else if (named.usage === 'server')
        issues.push({
          path: `${path}.clientCert`,
          message: `certificate "${p.clientCert}" has usage server: it cannot authenticate a client`,
        });
      else if (named.perReplica)
        issues.push({
          path: `${path}.clientCert`,
          message: `certificate "${p.clientCert}" has one certificate per replica: name a single client certificate`,
        });
    });
  }
  return issues;
}
