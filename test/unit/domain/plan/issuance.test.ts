import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { decideIssuance, IssueReason, type IssuanceInput } from '../../../../shared/domain/plan/issuance.js';
import type { CertificateMaterial, Material, PasswordMaterial } from '../../../../shared/domain/store/material.js';
import { unitsOf, type Unit } from '../../../../shared/domain/units.js';

const HOUR = 3_600_000;
const NOW = new Date('2030-06-01T00:00:00Z');
const inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities: [{name: ca, commonName: ca, validity: 8760h}]
certificates: [{name: web, issuer: ca, usage: server, commonName: web, validity: 2160h, renewBefore: 720h, secret: {name: web, namespace: shop}}]
credentials: [{name: pw, type: password, rotateEvery: 720h, secret: {name: pw, namespace: shop}}]
`);
const unit = (name: string): Unit => unitsOf(inventory, inventory.items.get(name)!)[0]!;

const cert = (overrides: Partial<CertificateMaterial> = {}): CertificateMaterial => ({
  type: 'certificate',
  cert: 'c',
  key: 'k',
  chain: '',
  ca: 'ca',
  notBefore: new Date(NOW.getTime() - 100 * HOUR).toISOString(),
  notAfter: new Date(NOW.getTime() + 2000 * HOUR).toISOString(),
  serial: '01',
  fingerprint: 'leaf-fp',
  keyType: 'ECDSA-P256',
  issuer: 'ca',
  issuerFingerprint: 'ca-fp',
  specHash: 'spec-1',
  ...overrides,
});
const password = (overrides: Partial<PasswordMaterial> = {}): PasswordMaterial => ({
  type: 'password',
  password: 'x'.repeat(32),
  createdAt: new Date(NOW.getTime() - 100 * HOUR).toISOString(),
  specHash: 'spec-1',
  ...overrides,
});

interface Case {
  readonly name: string;
  readonly unit: string;
  readonly current: Material | undefined;
  readonly issuerFingerprint?: string;
  readonly specHash?: string;
  readonly expected: IssueReason | undefined;
}

const cases: Case[] = [
  { name: 'nothing stored yet', unit: 'web', current: undefined, expected: IssueReason.NeverIssued },
  { name: 'nothing stored yet for a root', unit: 'ca', current: undefined, expected: IssueReason.NeverIssued },
  { name: 'up to date', unit: 'web', current: cert(), issuerFingerprint: 'ca-fp', expected: undefined },
  {
    name: 'expired',
    unit: 'web',
    current: cert({ notAfter: new Date(NOW.getTime() - HOUR).toISOString() }),
    issuerFingerprint: 'ca-fp',
    expected: IssueReason.Expired,
  },
  {
    name: 'expires exactly now',
    unit: 'web',
    current: cert({ notAfter: NOW.toISOString() }),
    issuerFingerprint: 'ca-fp',
    expected: IssueReason.Expired,
  },
  {
    name: 'inside renewBefore',
    unit: 'web',
    current: cert({ notAfter: new Date(NOW.getTime() + 719 * HOUR).toISOString() }),
    issuerFingerprint: 'ca-fp',
    expected: IssueReason.ExpiresSoon,
  },
  {
    name: 'exactly at renewBefore',
    unit: 'web',
    current: cert({ notAfter: new Date(NOW.getTime() + 720 * HOUR).toISOString() }),
    issuerFingerprint: 'ca-fp',
    expected: IssueReason.ExpiresSoon,
  },
  {
    name: 'just outside renewBefore',
    unit: 'web',
    current: cert({ notAfter: new Date(NOW.getTime() + 721 * HOUR).toISOString() }),
    issuerFingerprint: 'ca-fp',
    expected: undefined,
  },
  {
    name: 'root inside its renewBefore (a third of 8760h)',
    unit: 'ca',
    current: cert({ notAfter: new Date(NOW.getTime() + 2900 * HOUR).toISOString(), issuer: undefined, issuerFingerprint: undefined }),
    expected: IssueReason.ExpiresSoon,
  },
  { name: 'issuer re-issued', unit: 'web', current: cert(), issuerFingerprint: 'new-ca-fp', expected: IssueReason.IssuerChanged },
  {
    name: 'root has no issuer to compare',
    unit: 'ca',
    current: cert({ notAfter: new Date(NOW.getTime() + 5000 * HOUR).toISOString(), issuer: undefined, issuerFingerprint: undefined }),
    issuerFingerprint: undefined,
    expected: undefined,
  },
  {
    name: 'inventory changed what shapes the certificate',
    unit: 'web',
    current: cert(),
    issuerFingerprint: 'ca-fp',
    specHash: 'spec-2',
    expected: IssueReason.SpecChanged,
  },
  {
    name: 'adopted and valid: kept although signed elsewhere and shaped differently',
    unit: 'web',
    current: cert({ adopted: true, issuer: undefined, issuerFingerprint: undefined, specHash: 'other' }),
    issuerFingerprint: 'ca-fp',
    specHash: 'spec-2',
    expected: undefined,
  },
  {
    name: 'adopted but due: renewed',
    unit: 'web',
    current: cert({ adopted: true, notAfter: new Date(NOW.getTime() + HOUR).toISOString() }),
    issuerFingerprint: 'ca-fp',
    expected: IssueReason.ExpiresSoon,
  },
  {
    name: 'adopted and expired',
    unit: 'web',
    current: cert({ adopted: true, notAfter: new Date(NOW.getTime() - HOUR).toISOString() }),
    issuerFingerprint: 'x',
    expected: IssueReason.Expired,
  },
  {
    name: 'first violation wins: expired beats issuer and spec changes',
    unit: 'web',
    current: cert({ notAfter: new Date(NOW.getTime() - HOUR).toISOString() }),
    issuerFingerprint: 'new',
    specHash: 'spec-2',
    expected: IssueReason.Expired,
  },
  {
    name: 'first violation wins: expiring beats issuer and spec changes',
    unit: 'web',
    current: cert({ notAfter: new Date(NOW.getTime() + HOUR).toISOString() }),
    issuerFingerprint: 'new',
    specHash: 'spec-2',
    expected: IssueReason.ExpiresSoon,
  },
  {
    name: 'first violation wins: issuer change beats spec change',
    unit: 'web',
    current: cert(),
    issuerFingerprint: 'new',
    specHash: 'spec-2',
    expected: IssueReason.IssuerChanged,
  },
  { name: 'password young enough', unit: 'pw', current: password(), expected: undefined },
  {
    name: 'password older than rotateEvery',
    unit: 'pw',
    current: password({ createdAt: new Date(NOW.getTime() - 721 * HOUR).toISOString() }),
    expected: IssueReason.RotationDue,
  },
  {
    name: 'password due beats spec change',
    unit: 'pw',
    current: password({ createdAt: new Date(NOW.getTime() - 721 * HOUR).toISOString() }),
    specHash: 'spec-2',
    expected: IssueReason.RotationDue,
  },
  { name: 'password spec changed', unit: 'pw', current: password(), specHash: 'spec-2', expected: IssueReason.SpecChanged },
];

describe('decideIssuance', () => {
  it.each(cases)('$name -> $expected', ({ unit: name, current, issuerFingerprint, specHash, expected }) => {
    // Prepare
    const input: IssuanceInput = { unit: unit(name), current, issuerFingerprint, specHash: specHash ?? 'spec-1', now: NOW };
    // Act
    const reason = decideIssuance(input);
    // Assess
    expect(reason).toBe(expected);
  });

  it('reasons are the exported constants plan shows', () => {
    expect(Object.values(IssueReason)).toEqual([
      'NeverIssued',
      'Expired',
      'ExpiresSoon',
      'IssuerChanged',
      'SpecChanged',
      'RotationDue',
      'SigningKeyChanged',
    ]);
  });
});
