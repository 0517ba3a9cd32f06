import type { Inventory, Item } from '../domain/inventory/model.js';
import { adoptableMaterial } from '../domain/pki/adopt.js';
import { decideIssuance, IssueReason } from '../domain/plan/issuance.js';
import { adoptablePassword } from '../domain/credentials/adopt.js';
import type { Material } from '../domain/store/material.js';
import { authorityLevels, specHashOf, storeNameOf, unitsOf, type Unit } from '../domain/units.js';
import type { Deps } from './deps.js';
import type { MaterialReader } from './materials.js';
import { mapLimit } from './concurrency.js';

/** Leaves and credentials decided at once by default (a scan, a plan). */
const LEAF_CONCURRENCY = 128;

export const IssueAction = { Issue: 'issue', Renew: 'renew', Reissue: 'reissue', Adopt: 'adopt', Skip: 'skip' } as const;
export type IssueAction = (typeof IssueAction)[keyof typeof IssueAction];

export interface IssuanceDecision {
  readonly unit: Unit;
  readonly action: IssueAction;
  readonly reason: string;
  /** For adopt: the material found in the cluster. */
  readonly adopted?: Material;
}

export function actionFor(reason: IssueReason): IssueAction {
  switch (reason) {
    case IssueReason.NeverIssued:
      return IssueAction.Issue;
    case IssueReason.Expired:
    case IssueReason.ExpiresSoon:
    case IssueReason.RotationDue:
      return IssueAction.Renew;
    case IssueReason.IssuerChanged:
    case IssueReason.SigningKeyChanged:
    case IssueReason.SpecChanged:
      return IssueAction.Reissue;
    default: {
      const never: never = reason;
      throw new Error(`unknown reason ${String(never)}`);
    }
  }
}

/** Looks in the unit's clusters for an existing Secret worth keeping (items with `adopt: true`). */
async function findAdoptable(deps: Deps, unit: Unit, now: Date): Promise<{ material?: Material; why?: string }> {
  const placement = unit.item.secret;
  if (!placement || !unit.secretName) return {};
  for (const cluster of placement.clusters) {
    const sink = deps.clusters.get(cluster)?.secrets;
    const found = sink && (await sink.getSecret(placement.namespace, unit.secretName));
    if (!found) continue;
    const item = unit.item;
    const result =
      item.kind === 'credential'
        ? adoptablePassword(item, found, now, specHashOf(unit))
        : adoptableMaterial(unit, found, now, specHashOf(unit));
    return typeof result === 'string' ? { why: `${cluster}/${placement.namespace}/${unit.secretName}: ${result}` } : { material: result };
  }
  return {};
}

/**
 * Decides, unit by unit in dependency order (root CAs, intermediates, leaves, credentials), what needs a new
 * version. `act` runs after each decision that is not "nothing to do": apply issues there (so children see the
 * new issuer), plan only records. A unit whose issuer gets a new version is re-issued too. Decisions come back
 * in inventory order. `only`: store names of the units to decide (the others are not read). `onSettled` is told of
 * each unit once the walk is done with it (decided and, if `act` ran, acted on): nothing later in the walk changes
 * that unit's version (authorities are walked before what they sign, signing keys before their tokens).
 */
export async function walkIssuance(
  deps: Deps,
  inventory: Inventory,
  reader: MaterialReader,
  act: (decision: IssuanceDecision) => Promise<void>,
  options: { readonly only?: ReadonlySet<string>; readonly onSettled?: (unit: Unit) => void; readonly concurrency?: number } = {},
): Promise<IssuanceDecision[]> {
  const concurrency = options.concurrency ?? LEAF_CONCURRENCY;
  const now = deps.clock.now();
  const changed = new Set<string>();
  const decideUnit = async (unit: Unit): Promise<IssuanceDecision | undefined> => {
    // A scan of what is due decides those units only (each reads its issuer as it needs).
    if (options.only && !options.only.has(unit.storeName)) return undefined;
    const item = unit.item;
    const current = (await reader.current(unit.storeName))?.material;
    const issuerName = item.kind === 'authority' ? item.parent : item.kind === 'certificate' ? item.issuer : undefined;
    let issuerFingerprint: string | undefined;
    if (item.kind === 'credential' && item.token) {
      // A token follows its signing key's active key id.
      const key = (await reader.current(storeNameOf(inventory.name, item.token.signingKey)))?.material;
      issuerFingerprint = changed.has(item.token.signingKey) ? 'changes-in-this-run' : key?.type === 'signing-key' ? key.kid : undefined;
    } else if (issuerName !== undefined) {
      const issuerCurrent = await reader.current(storeNameOf(inventory.name, issuerName));
      issuerFingerprint = changed.has(issuerName)
        ? 'changes-in-this-run'
        : issuerCurrent?.material.type === 'certificate'
          ? issuerCurrent.material.fingerprint
          : undefined;
    }
    const reason = decideIssuance({ unit, current, issuerFingerprint, specHash: specHashOf(unit), now });
    if (!reason) return undefined;
    let decision: IssuanceDecision;
    if (
      reason === IssueReason.NeverIssued &&
      item.adopt &&
      (item.kind === 'certificate' || (item.kind === 'credential' && item.type === 'password'))
    ) {
      const found = await findAdoptable(deps, unit, now);
      decision = found.material
        ? { unit, action: IssueAction.Adopt, reason: 'SecretAdopted', adopted: found.material }
        : { unit, action: IssueAction.Issue, reason: found.why ? `${reason} (existing Secret not kept: ${found.why})` : reason };
    } else {
      decision = { unit, action: actionFor(reason), reason };
    }
    if (decision.action !== IssueAction.Skip && decision.action !== IssueAction.Adopt) changed.add(item.name);
    await act(decision);
    return decision;
  };

  const decide = async (unit: Unit): Promise<IssuanceDecision | undefined> => {
    const d = await decideUnit(unit);
    options.onSettled?.(unit);
    return d;
  };

  // Authorities parents first (each may change what its children are signed by); those of one depth at once, as
  // none signs another: ten root CAs share a group commit instead of waiting for ten in turn.
  const decisions: IssuanceDecision[] = [];
  for (const level of authorityLevels(inventory)) {
    const decided = await Promise.all(
      level.map(async (authority) => {
        const mine: IssuanceDecision[] = [];
        for (const unit of unitsOf(inventory, authority)) {
          const d = await decide(unit);
          if (d) mine.push(d);
        }
        return mine;
      }),
    );
    decisions.push(...decided.flat());
  }
  // Leaves and credentials depend only on authorities: many at once, so store writes (fsync) overlap.
  const isToken = (item: Item) => item.kind === 'credential' && item.type === 'jwt-token';
  const rest = [...inventory.certificates, ...inventory.credentials].filter((i) => !isToken(i)).flatMap((item) => unitsOf(inventory, item));
  for (const d of await mapLimit(rest, concurrency, decide)) if (d) decisions.push(d);
  // Tokens after their signing keys: a key issued (or re-issued) in this run signs them.
  const tokens = inventory.credentials.filter(isToken).flatMap((item) => unitsOf(inventory, item));
  for (const d of await mapLimit(tokens, concurrency, decide)) if (d) decisions.push(d);
  return decisions;
}
