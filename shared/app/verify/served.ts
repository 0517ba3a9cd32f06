import { X509Certificate } from 'node:crypto';
import type { Authority, Certificate, Inventory, Probe } from '../../domain/inventory/model.js';
import { anchorOf, certificatesOf, fingerprintOf } from '../../domain/pki/chain.js';
import { asCertificate, decodeMaterial } from '../../domain/store/material.js';
import { storeNameOf, unitsOf } from '../../domain/units.js';
import { ProbeError, type ProbeFailure, type ProbeTarget, type ServedTls } from '../../ports/prober.js';
import { Stage } from '../../ports/secret-store.js';
import type { Deps } from '../deps.js';
import { VerificationError } from '../rotation/errors.js';

/** An item whose probes can be checked: certificates and authorities. */
export type ProbedItem = Certificate | Authority;

export const ExpectationKind = { Leaf: 'leaf', Chain: 'chain' } as const;
export type ExpectationKind = (typeof ExpectationKind)[keyof typeof ExpectationKind];

/**
 * What an endpoint must serve: a leaf with one of these SHA-256 fingerprints (lowercase hex), or a chain that
 * ends at one of these CA certificates (PEM; the new CA during an authority rotation).
 */
export type ServedExpectation =
  | { readonly kind: typeof ExpectationKind.Leaf; readonly fingerprints: readonly string[] }
  | { readonly kind: typeof ExpectationKind.Chain; readonly authorities: readonly string[] };

/** Why one probe did not pass: the prober's failure, or what it saw is not what was expected. */
export const Mismatch = { Fingerprint: 'fingerprint', Chain: 'chain', Expired: 'expired', Setup: 'setup' } as const;
export type Mismatch = (typeof Mismatch)[keyof typeof Mismatch];

export interface ProbeOutcome {
  /** `host:port` as the inventory names it. */
  readonly endpoint: string;
  readonly ok: boolean;
  readonly failure?: ProbeFailure | Mismatch;
  readonly problem?: string;
  readonly servedFingerprint?: string;
  readonly protocol?: string;
  /** The client certificate item presented, and whether the server accepted it. */
  readonly clientCert?: string;
  readonly clientCertAccepted?: boolean;
}

export interface ServedReport {
  readonly item: string;
  readonly ok: boolean;
  readonly outcomes: readonly ProbeOutcome[];
}

/**
 * What the item's endpoints must serve now, from the store's current versions: a certificate's leaf (any replica's,
 * for a per-replica certificate), or for an authority a chain ending at its certificate. Undefined for a client
 * certificate: what a server presents is not its business; its probes check that servers accept it.
 */
export async function currentExpectation(deps: Deps, inventory: Inventory, item: ProbedItem): Promise<ServedExpectation | undefined> {
  if (item.kind === 'certificate' && item.usage === 'client') return undefined;
  const materials = await Promise.all(unitsOf(inventory, item).map((u) => currentCertificate(deps, inventory, u.key)));
  if (item.kind === 'authority') return { kind: ExpectationKind.Chain, authorities: materials.map((m) => m.cert) };
  return { kind: ExpectationKind.Leaf, fingerprints: materials.map((m) => m.fingerprint) };
}

/**
 * Runs every probe of an item (in parallel, each within its own deadline) and judges what was served against
 * `expectation` (default: `currentExpectation`). A probe whose `clientCert` is set (or any probe of a client
 * certificate, which then presents itself) presents that item's current certificate and passes only if the
 * server accepts it. Never passes a probe it could not run: no prober, no answer, no material all fail it.
 */
export async function probeServed(
  deps: Deps,
  inventory: Inventory,
  item: ProbedItem,
  expectation?: ServedExpectation,
): Promise<ServedReport> {
  const probes = item.probes ?? [];
  if (probes.length === 0) return { item: item.name, ok: true, outcomes: [] };
  const expected = expectation ?? (await currentExpectation(deps, inventory, item));
  const outcomes = await Promise.all(probes.map((p) => runProbe(deps, inventory, item, p, expected)));
  return { item: item.name, ok: outcomes.every((o) => o.ok), outcomes };
}

/**
 * `probeServed`, failing with a VerificationError that names every probe that did not pass. Retryable: a server
 * may still be reloading; the caller's retries end in a failed (and, after promotion, rolled back) rotation.
 */
export async function verifyServed(
  deps: Deps,
  inventory: Inventory,
  item: ProbedItem,
  expectation?: ServedExpectation,
): Promise<ServedReport> {
  const report = await probeServed(deps, inventory, item, expectation);
  if (!report.ok) {
    const failed = report.outcomes.filter((o) => !o.ok).map((o) => `${o.endpoint}: ${o.problem}`);
    throw new VerificationError(`${item.name}: ${failed.length} of ${report.outcomes.length} probe(s) failed: ${failed.join('; ')}`, {
      context: { item: item.name },
      retryable: true,
    });
  }
  return report;
}

const endpointOf = (p: Probe): string => (p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`);

async function runProbe(
  deps: Deps,
  inventory: Inventory,
  item: ProbedItem,
  probe: Probe,
  expected: ServedExpectation | undefined,
): Promise<ProbeOutcome> {
  const endpoint = endpointOf(probe);
  const clientCert = probe.clientCert ?? (item.kind === 'certificate' && item.usage === 'client' ? item.name : undefined);
  const fail = (failure: ProbeFailure | Mismatch, problem: string, extra: Partial<ProbeOutcome> = {}): ProbeOutcome => ({
    endpoint,
    ok: false,
    failure,
    problem,
    ...(clientCert && { clientCert }),
    ...extra,
  });
  if (!deps.prober) return fail(Mismatch.Setup, 'this runtime has no prober: the probe cannot run, so it does not pass');

  let target: ProbeTarget = {
    host: probe.host,
    port: probe.port,
    timeoutMs: probe.timeoutMs,
    ...(probe.serverName && { serverName: probe.serverName }),
    ...(probe.startTls && { startTls: probe.startTls }),
    ...(deps.signal && { signal: deps.signal }),
  };
  if (clientCert) {
    try {
      const m = await currentCertificate(deps, inventory, clientCert);
      target = { ...target, clientCertificate: { cert: m.cert + m.chain, key: m.key } };
    } catch (e) {
      return fail(Mismatch.Setup, `client certificate ${clientCert}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  let served: ServedTls;
  try {
    served = await deps.prober.probe(target);
  } catch (e) {
    // The prober names the endpoint too; the report already does.
    if (e instanceof ProbeError) return fail(e.failure, e.message.replace(`${probe.host}:${probe.port}: `, ''));
    throw e;
  }
  const leafDer = served.chain[0];
  if (!leafDer) return fail(Mismatch.Chain, 'the server sent no certificate', { protocol: served.protocol });
  const leaf = new X509Certificate(leafDer);
  const seen = {
    servedFingerprint: fingerprintOf(leaf),
    protocol: served.protocol,
    ...(clientCert && { clientCertAccepted: served.clientCertificateAccepted === true }),
  };
  if (clientCert && served.clientCertificateAccepted !== true)
    return fail(Mismatch.Setup, `the server did not confirm it accepted client certificate ${clientCert}`, seen);
  const problem = expected && mismatchOf(served, leaf, expected, deps.clock.now());
  if (problem) return fail(problem.failure, problem.message, seen);
  return { endpoint, ok: true, ...seen, ...(clientCert && { clientCert }) };
}

function mismatchOf(
  served: ServedTls,
  leaf: X509Certificate,
  expected: ServedExpectation,
  now: Date,
): { failure: Mismatch; message: string } | undefined {
  if (new Date(leaf.validTo) <= now) return { failure: Mismatch.Expired, message: `served certificate expired at ${leaf.validTo}` };
  switch (expected.kind) {
    case ExpectationKind.Leaf: {
      const fp = fingerprintOf(leaf);
      if (expected.fingerprints.includes(fp)) return undefined;
      return {
        failure: Mismatch.Fingerprint,
        message: `serves ${fp.slice(0, 16)}… (${leaf.subject.replace(/\n/g, ', ')}), expected ${expected.fingerprints.map((f) => `${f.slice(0, 16)}…`).join(' or ')}`,
      };
    }
    case ExpectationKind.Chain: {
      const path = served.chain.map((der) => new X509Certificate(der));
      if (anchorOf(path, expected.authorities.flatMap(certificatesOf))) return undefined;
      return {
        failure: Mismatch.Chain,
        message: `served chain (${path.length} certificate(s), leaf issued by ${leaf.issuer.replace(/\n/g, ', ')}) does not end at the expected authority`,
      };
    }
    default: {
      const never: never = expected;
      throw new Error(`unknown expectation ${String(never)}`);
    }
  }
}

async function currentCertificate(deps: Deps, inventory: Inventory, unitKey: string) {
  const name = storeNameOf(inventory.name, unitKey);
  const version = await deps.store.getVersion(name, { stage: Stage.Current });
  if (!version) throw new VerificationError(`${unitKey} has no current version`, { context: { item: unitKey } });
  return asCertificate(decodeMaterial(version.value, name), name);
}
