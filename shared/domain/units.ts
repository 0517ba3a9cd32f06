import { createHash } from 'node:crypto';
import type { Authority, Inventory, Item } from './inventory/model.js';
import { defined } from './defined.js';

/**
 * A unit is one thing with its own versions in the store: an authority, a certificate, one replica's certificate
 * of a `perReplica` certificate, or a credential.
 */
export interface Unit {
  readonly item: Item;
  /** `<item>` or `<item>/<ordinal>`. */
  readonly key: string;
  readonly storeName: string;
  readonly ordinal?: number;
  /** The Secret name this unit is written to, if any. */
  readonly secretName?: string;
  readonly commonName?: string;
  readonly dnsNames: readonly string[];
}

export const storeNameOf = (inventory: string, unitKey: string): string => `rekey/${inventory}/${unitKey}`;

export function unitsOf(inventory: Inventory, item: Item): Unit[] {
  if (item.kind === 'certificate' && item.perReplica) {
    const { statefulSet, replicas } = item.perReplica;
    const ns = defined(item.secret).namespace;
    return Array.from({ length: replicas }, (_, i) => {
      const pod = `${statefulSet}-${i}`;
      return {
        item,
        key: `${item.name}/${i}`,
        storeName: storeNameOf(inventory.name, `${item.name}/${i}`),
        ordinal: i,
        secretName: `${defined(item.secret).name}-${i}`,
        commonName: pod,
        dnsNames: [pod, `${pod}.${statefulSet}.${ns}.svc`, ...item.dnsNames.filter((d) => d !== pod)],
      };
    });
  }
  return [
    {
      item,
      key: item.name,
      storeName: storeNameOf(inventory.name, item.name),
      ...(item.secret && { secretName: item.secret.name }),
      ...(item.kind !== 'credential' && { commonName: item.subject.commonName }),
      dnsNames: item.kind === 'certificate' ? item.dnsNames : [],
    },
  ];
}

export function allUnits(inventory: Inventory): Unit[] {
  return [...inventory.items.values()].flatMap((item) => unitsOf(inventory, item));
}

/** Authorities parents first, so an issuer always exists before what it signs. */
export function authoritiesInOrder(inventory: Inventory): Authority[] {
  return authorityLevels(inventory).flat();
}

/** The authorities by depth: roots, then what they sign, and so on; each level in inventory order. */
export function authorityLevels(inventory: Inventory): Authority[][] {
  const byName = new Map(inventory.authorities.map((a) => [a.name, a]));
  const depth = (a: Authority): number => (a.parent ? 1 + depth(defined(byName.get(a.parent))) : 0);
  const levels: Authority[][] = [];
  for (const a of inventory.authorities) (levels[depth(a)] ??= []).push(a);
  return levels;
}

/** The authorities from an issuer up to its root: [issuer, parent, ..., root]. */
export function issuerPath(inventory: Inventory, issuerName: string): Authority[] {
  const byName = new Map(inventory.authorities.map((a) => [a.name, a]));
  const path: Authority[] = [];
  for (let a = byName.get(issuerName); a; a = a.parent ? byName.get(a.parent) : undefined) path.push(a);
  return path;
}

/** Spec hashes by unit object (units and items are never changed in place): apply asks twice per unit. */
const specHashes = new WeakMap<Unit, string>();

/** What shapes a certificate or credential; stored with each version so a change in the inventory means re-issue. */
export function specHashOf(unit: Unit): string {
  let hash = specHashes.get(unit);
  if (hash === undefined) specHashes.set(unit, (hash = computeSpecHash(unit)));
  return hash;
}

function computeSpecHash(unit: Unit): string {
  const item = unit.item;
  const spec =
    item.kind === 'credential'
      ? { type: item.type, length: item.length, algorithm: item.algorithm, ...(item.token && { token: item.token }) }
      : {
          kind: item.kind,
          cn: unit.commonName,
          o: item.subject.organization ?? [],
          ou: item.subject.organizationalUnit ?? [],
          key: item.keyType,
          validity: item.validityMs,
          ...(item.kind === 'certificate'
            ? { usage: item.usage, dns: unit.dnsNames, ip: item.ipAddresses, uri: item.uris, issuer: item.issuer }
            : { parent: item.parent ?? null, pathLen: item.pathLen ?? null }),
        };
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}
