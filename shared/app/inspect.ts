import { UsageError } from '../domain/errors.js';
import type { Inventory, Item } from '../domain/inventory/model.js';
import type { RotationRecord } from '../domain/rotation/record.js';
import { decodeMaterial, type Material } from '../domain/store/material.js';
import { unitsOf } from '../domain/units.js';
import { Stage, type VersionInfo } from '../ports/secret-store.js';
import type { Deps } from './deps.js';
import { certificateFacts, chainFacts, type CertificateFacts, type ChainFacts } from './report/certificate-facts.js';
import { consumerLabel, findConsumers, type FoundConsumer } from './report/consumers.js';
import { observePlacements, type CurrentRef, type Placement } from './report/placements.js';
import { pemBlocks } from '../domain/pki/pem.js';

/** A credential's current version, described without its secret part. */
export interface CredentialFacts {
  readonly type: 'password' | 'signing-key' | 'token';
  readonly createdAt: string;
  /** Tokens: when the token expires (the token itself is never shown). */
  readonly expiresAt?: string;
  readonly login?: string;
  readonly kid?: string;
  readonly alg?: string;
  /** Key ids verifiers accept (signing keys). */
  readonly keySet?: readonly string[];
}

export interface UnitInspection {
  readonly unit: string;
  readonly storeName: string;
  /** The current version's certificate, decoded from the stored PEM (not from rekey's own fields). */
  readonly certificate?: CertificateFacts;
  readonly chain?: ChainFacts;
  readonly credential?: CredentialFacts;
  readonly adopted?: boolean;
  /** Every version the store keeps, newest first, with its staging labels. */
  readonly versions: readonly VersionInfo[];
}

export interface RotationSummary {
  readonly id: string;
  readonly status: string;
  readonly trigger: string;
  readonly reason: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly step: string;
  readonly error?: string;
  readonly steps: readonly {
    readonly step: string;
    readonly status: string;
    readonly at: string;
    readonly attempt: number;
    readonly durationMs?: number;
  }[];
  readonly restarts: Readonly<Record<string, { readonly state: string; readonly workloads?: readonly string[] }>>;
}

export interface Inspection {
  readonly inventory: string;
  readonly item: string;
  readonly kind: Item['kind'];
  readonly issuer?: string;
  readonly parent?: string;
  readonly usage?: string;
  readonly restart: string;
  readonly units: readonly UnitInspection[];
  /** Where the item is written and the version each copy holds (only clusters this runtime reaches are read). */
  readonly synced: readonly Placement[];
  readonly files?: { readonly dir: string; readonly cert: string };
  /** Consumers as the inventory lists them. */
  readonly consumers: readonly string[];
  /** Workloads found using the item's Secrets in connected clusters; `listed: false` ones would miss restarts. */
  readonly foundConsumers?: readonly FoundConsumer[];
  readonly lastRotation?: RotationSummary;
}

/** A rotation record as people read it: each step with how long it took since the one before. */
export function summarizeRotation(r: RotationRecord): RotationSummary {
  let previous = Date.parse(r.startedAt);
  const steps = r.history.map((h) => {
    const at = Date.parse(h.at);
    const durationMs = Number.isFinite(at) && Number.isFinite(previous) ? Math.max(0, at - previous) : undefined;
    previous = at;
    return { step: h.step, status: h.status, at: h.at, attempt: h.attempt, ...(durationMs !== undefined && { durationMs }) };
  });
  const restarts = Object.fromEntries(
    Object.entries(r.restarts).map(([c, v]) => [c, { state: v.state, ...(v.workloads && { workloads: v.workloads }) }]),
  );
  return {
    id: r.id,
    status: r.status,
    trigger: r.trigger,
    reason: r.reason,
    startedAt: r.startedAt,
    ...(r.finishedAt && { finishedAt: r.finishedAt }),
    step: r.step,
    ...(r.error && { error: r.error }),
    steps,
    restarts,
  };
}

function credentialFacts(m: Material): CredentialFacts | undefined {
  switch (m.type) {
    case 'password':
      return { type: 'password', createdAt: m.createdAt, ...(m.login && { login: m.login }) };
    case 'signing-key':
      return {
        type: 'signing-key',
        createdAt: m.createdAt,
        kid: m.kid,
        alg: m.alg,
        keySet: m.keySet.map((k) => (typeof k.kid === 'string' ? k.kid : '?')),
      };
    case 'token':
      return { type: 'token', createdAt: m.createdAt, kid: m.kid, expiresAt: m.expiresAt };
    case 'certificate':
      return undefined;
    default: {
      const never: never = m;
      return never;
    }
  }
}

/**
 * Everything about one item, like cmctl's `inspect secret`: the decoded current certificate and its chain, the
 * store's versions and stages, the Secrets it is synced to with the version each holds, consumers (listed and,
 * with live clusters, found) and the last rotation. Never returns key material, passwords or private JWKs.
 */
export async function inspectItem(deps: Deps, inventory: Inventory, name: string): Promise<Inspection> {
  const item = inventory.items.get(name);
  if (!item) throw new UsageError(`no item named "${name}" in inventory ${inventory.name}`, { context: { item: name } });
  const units = unitsOf(inventory, item);
  const currentVersions = new Map<string, CurrentRef>();
  const inspected: UnitInspection[] = [];
  for (const unit of units) {
    const description = await deps.store.describe(unit.storeName);
    const versions = [...(description?.versions ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    const current = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
    let facts: Pick<UnitInspection, 'certificate' | 'chain' | 'credential' | 'adopted'> = {};
    if (current) {
      const m = decodeMaterial(current.value, unit.storeName);
      currentVersions.set(unit.storeName, {
        versionId: current.versionId,
        ...(m.type === 'certificate' && { fingerprint: m.fingerprint }),
      });
      if (m.type === 'certificate') {
        const der = pemBlocks(m.cert)[0];
        const chain = chainFacts(m.cert, m.chain, m.ca);
        facts = { ...(der && { certificate: certificateFacts(der) }), ...(chain && { chain }), ...(m.adopted && { adopted: true }) };
      } else {
        const c = credentialFacts(m);
        facts = c ? { credential: c } : {};
      }
    }
    inspected.push({ unit: unit.key, storeName: unit.storeName, ...facts, versions });
  }
  const synced = await observePlacements(deps, inventory, units, currentVersions);
  const found = [...deps.clusters.values()].some((c) => c.workloads) ? await findConsumers(deps, inventory, [item]) : undefined;
  const last = (await deps.journal.listByItem(inventory.name, item.name)).at(-1);
  return {
    inventory: inventory.name,
    item: item.name,
    kind: item.kind,
    ...(item.kind === 'certificate' && { issuer: item.issuer, usage: item.usage }),
    ...(item.kind === 'authority' && item.parent && { parent: item.parent }),
    restart: item.restart.policy,
    units: inspected,
    synced,
    ...(item.files && { files: { dir: item.files.dir, cert: item.files.cert } }),
    consumers: consumerLabel(item),
    ...(found && { foundConsumers: found }),
    ...(last && { lastRotation: summarizeRotation(last) }),
  };
}
