import type { Subject } from '../inventory/model.js';
import { oid, seq, set, utf8, type Asn1 } from './der.js';

const ATTR = { commonName: '2.5.4.3', organization: '2.5.4.10', organizationalUnit: '2.5.4.11' } as const;

/** A distinguished name, O and OU before CN as openssl prints them, each attribute its own RDN. */
export function distinguishedName(subject: Subject): Asn1 {
  const rdn = (type: string, value: string) => set([seq([oid(type), utf8(value)])]);
  return seq([
    ...(subject.organization ?? []).map((o) => rdn(ATTR.organization, o)),
    ...(subject.organizationalUnit ?? []).map((ou) => rdn(ATTR.organizationalUnit, ou)),
    rdn(ATTR.commonName, subject.commonName),
  ]);
}
