import type { Unit } from '../units.js';
import type { Material } from '../store/material.js';
import { isDue } from './due.js';

/** Why a unit needs a new version. Exported constants: these are what `plan` explains to the user. */
export const IssueReason = {
  NeverIssued: 'NeverIssued',
  Expired: 'Expired',
  ExpiresSoon: 'ExpiresSoon',
  IssuerChanged: 'IssuerChanged',
  SpecChanged: 'SpecChanged',
  RotationDue: 'RotationDue',
  SigningKeyChanged: 'SigningKeyChanged',
} as const;
export type IssueReason = (typeof IssueReason)[keyof typeof IssueReason];

export interface IssuanceInput {
  readonly unit: Unit;
  readonly current: Material | undefined;
  /**
   * Fingerprint of the issuer's certificate as it will be (after this run's own re-issues); undefined for roots.
   * For a token: the key id its signing key signs with now.
   */
  readonly issuerFingerprint: string | undefined;
  readonly specHash: string;
  readonly now: Date;
}

type Policy = (input: IssuanceInput) => IssueReason | undefined;

const neverIssued: Policy = ({ current }) => (current ? undefined : IssueReason.NeverIssued);

const expiry: Policy = ({ unit, current, now }) => {
  if (current?.type !== 'certificate' || unit.item.kind === 'credential') return undefined;
  if (Date.parse(current.notAfter) <= now.getTime()) return IssueReason.Expired;
  return isDue(unit.item, current, now) ? IssueReason.ExpiresSoon : undefined;
};

const rotationDue: Policy = ({ unit, current, now }) => {
  if (!current || current.type === 'certificate' || unit.item.kind !== 'credential') return undefined;
  return isDue(unit.item, current, now) ? IssueReason.RotationDue : undefined;
};

/** A token signed by a key that no longer signs (its signing key activated a new one): mint it again. */
const signingKeyChanged: Policy = ({ current, issuerFingerprint }) =>
  current?.type === 'token' && issuerFingerprint !== undefined && current.kid !== issuerFingerprint
    ? IssueReason.SigningKeyChanged
    : undefined;

const issuerChanged: Policy = ({ current, issuerFingerprint }) => {
  // An adopted certificate was signed elsewhere; it is kept until it is due.
  if (current?.type !== 'certificate' || current.adopted || issuerFingerprint === undefined) return undefined;
  return current.issuerFingerprint !== issuerFingerprint ? IssueReason.IssuerChanged : undefined;
};

const specChanged: Policy = ({ current, specHash }) => {
  if (!current || (current.type === 'certificate' && current.adopted)) return undefined;
  return current.specHash !== specHash ? IssueReason.SpecChanged : undefined;
};

/** First violation wins, in this order. */
export const ISSUANCE_POLICIES: readonly Policy[] = [neverIssued, expiry, rotationDue, signingKeyChanged, issuerChanged, specChanged];

export function decideIssuance(input: IssuanceInput): IssueReason | undefined {
  for (const policy of ISSUANCE_POLICIES) {
    const reason = policy(input);
    if (reason) return reason;
  }
  return undefined;
}
