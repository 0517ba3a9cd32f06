import { X509Certificate } from 'node:crypto';
import type { Authority, Inventory } from '../../domain/inventory/model.js';
import { splitPemChain } from '../../domain/pki/pem.js';
import { storeNameOf } from '../../domain/units.js';
import type { Deps } from '../deps.js';
import type { MaterialReader } from '../materials.js';

/** The reason a scan gives when an external CA's chain differs from the stored one (a rotation's `reason`). */
export const EXTERNAL_CHAIN_CHANGED = 'ExternalChainChanged';

export type ChainCheck =
  | { readonly authority: string; readonly changed: true; readonly reason: string }
  | { readonly authority: string; readonly changed: false; readonly error?: string };

const fingerprints = (pem: string): string[] =>
  splitPemChain(pem).map((c) => new X509Certificate(c).fingerprint256.replaceAll(':', '').toLowerCase());

/**
 * Compares each external authority's stored version with the chain its CA serves now (one servedChain() call each): the
 * CA certificate (top intermediate or root) and the roots. A difference (the CA re-issued or re-imported its
 * certificate, a new root) is a change of trust anchor, so it must go through the authority's trust-overlap
 * rotation (both chains in the bundles until the leaves move) rather than wait for the stored copy to expire.
 * rekey's own authorities (their issuer serves no chain, and nothing is read for them), those in `skip` (rotating or
 * already due) and those never stored are left out; a CA that cannot be read is reported, not thrown, so one
 * unreachable CA does not stop the scan.
 */
export async function checkExternalChains(
  deps: Pick<Deps, 'issuers'>,
  inventory: Inventory,
  reader: MaterialReader,
  skip: ReadonlySet<string>,
): Promise<ChainCheck[]> {
  const authorities = [...inventory.items.values()].filter((i): i is Authority => i.kind === 'authority' && !skip.has(i.name));
  const checks: ChainCheck[] = [];
  for (const authority of authorities) {
    try {
      const issuer = await deps.issuers.forAuthority(authority);
      // rekey's own CAs serve no chain elsewhere: nothing to compare.
      const trust = await issuer.servedChain();
      if (!trust) continue;
      const stored = (await reader.current(storeNameOf(inventory.name, authority.name)))?.material;
      if (stored?.type !== 'certificate') continue;
      const top = splitPemChain(trust.intermediates)[0] ?? splitPemChain(trust.roots)[0];
      const topNow = top ? fingerprints(top)[0] : undefined;
      const rootsNow = fingerprints(trust.roots || top || '').sort();
      const rootsStored = fingerprints(stored.ca).sort();
      if (topNow !== stored.fingerprint || rootsNow.join() !== rootsStored.join()) {
        const what =
          topNow !== stored.fingerprint
            ? `certificate ${topNow?.slice(0, 16) ?? 'none'}… (stored ${stored.fingerprint.slice(0, 16)}…)`
            : 'roots';
        checks.push({ authority: authority.name, changed: true, reason: `${EXTERNAL_CHAIN_CHANGED}: the CA now serves another ${what}` });
      } else checks.push({ authority: authority.name, changed: false });
    } catch (e) {
      checks.push({ authority: authority.name, changed: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return checks;
}
