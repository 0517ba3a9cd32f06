import { IntegrityError, NotFoundError } from '../domain/errors.js';
import type { Authority, Inventory } from '../domain/inventory/model.js';
import { issuerMaterialOf, type IssuerMaterial } from '../domain/pki/issue.js';
import {
  asCertificate,
  decodeMaterial,
  type CertificateMaterial,
  type Material,
  type SigningKeyMaterial,
} from '../domain/store/material.js';
import { storeNameOf, type Unit } from '../domain/units.js';
import type { AuthorityMaterials } from '../ports/issuer.js';
import { Stage, type SecretStore } from '../ports/secret-store.js';

export interface CurrentVersion {
  readonly versionId: string;
  readonly material: Material;
  /** AWSPENDING is still on the current version (a promotion cut short before its last call). */
  readonly pending?: boolean;
}

/**
 * Reads current versions once per run and remembers them; `remember` records what this run promoted so later
 * reads (children of a re-issued CA) see it without another store call.
 */
export class MaterialReader implements AuthorityMaterials {
  private readonly cache = new Map<string, Promise<CurrentVersion | undefined>>();
  private readonly issuers = new Map<string, Promise<IssuerMaterial>>();
  private readonly pendings = new Map<string, Promise<CurrentVersion | undefined>>();

  constructor(
    private readonly store: SecretStore,
    private readonly inventory: Inventory,
  ) {}

  get inventoryName(): string {
    return this.inventory.name;
  }

  /** The inventory's authority of that name, if there is one. */
  authority(name: string): Authority | undefined {
    const item = this.inventory.items.get(name);
    return item?.kind === 'authority' ? item : undefined;
  }

  current(storeName: string): Promise<CurrentVersion | undefined> {
    let hit = this.cache.get(storeName);
    if (!hit) {
      hit = this.store.getVersion(storeName, { stage: Stage.Current }).then(
        (v) =>
          v && {
            versionId: v.versionId,
            material: decodeMaterial(v.value, storeName),
            ...(v.stages.includes(Stage.Pending) && { pending: true }),
          },
      );
      this.cache.set(storeName, hit);
    }
    return hit;
  }

  remember(storeName: string, version: CurrentVersion): void {
    this.cache.set(storeName, Promise.resolve(version));
    this.issuers.delete(storeName);
    this.pendings.delete(storeName);
  }

  /**
   * Forgets what this run read or promoted under a store name; a later read asks the store again. For a leaf whose
   * Secrets are written: nothing else in the run reads it, and an apply of 10,000 leaves kept every one of them (its
   * PEMs and signed bytes) to the end, which made each young-generation GC copy them again.
   */
  release(storeName: string): void {
    this.cache.delete(storeName);
  }

  /** The version labelled AWSPENDING, if any (an authority's new CA during its rotation), read once per run. */
  pendingVersion(storeName: string): Promise<CurrentVersion | undefined> {
    let hit = this.pendings.get(storeName);
    if (!hit) {
      hit = this.store
        .getVersion(storeName, { stage: Stage.Pending })
        .then((v) => v && { versionId: v.versionId, material: decodeMaterial(v.value, storeName) });
      this.pendings.set(storeName, hit);
    }
    return hit;
  }

  async pending(unit: Unit, versionId: string): Promise<Material> {
    const v = await this.store.getVersion(unit.storeName, { versionId });
    if (!v) throw new NotFoundError(`version ${versionId} of ${unit.storeName} is missing`, { context: { item: unit.key } });
    return decodeMaterial(v.value, unit.storeName);
  }

  /** The current version of a jwt-signing-key credential (its active key signs tokens). */
  async signingKey(name: string): Promise<SigningKeyMaterial> {
    const current = await this.current(storeNameOf(this.inventory.name, name));
    if (!current) throw new NotFoundError(`signing key "${name}" has not been issued yet`, { context: { item: name } });
    if (current.material.type !== 'signing-key')
      throw new IntegrityError(`${name} holds a ${current.material.type}, not a signing key`, { context: { item: name } });
    return current.material;
  }

  /** An authority's current version as stored, if it has one. */
  async authorityCurrent(authorityName: string): Promise<CertificateMaterial | undefined> {
    const current = await this.current(storeNameOf(this.inventory.name, authorityName));
    return current?.material.type === 'certificate' ? current.material : undefined;
  }

  /** The current material of an authority, ready to sign with. */
  issuer(authorityName: string): Promise<IssuerMaterial> {
    const name = storeNameOf(this.inventory.name, authorityName);
    let hit = this.issuers.get(name);
    if (!hit) {
      hit = this.current(name).then((current) => {
        if (!current) throw new NotFoundError(`authority "${authorityName}" has not been issued yet`, { context: { item: authorityName } });
        const authority = this.inventory.items.get(authorityName);
        return issuerMaterialOf(authorityName, asCertificate(current.material, name), authority?.kind === 'authority' && !authority.parent);
      });
      this.issuers.set(name, hit);
    }
    return hit;
  }
}
