import type { Subject } from '../inventory/model.js';
import { objectId, sequence, setOf, utf8String } from './der-writer.js';

const ATTR = { commonName: '2.5.4.3', organization: '2.5.4.10', organizationalUnit: '2.5.4.11' } as const;

/** A distinguished name (DER), O and OU before CN as openssl prints them, each attribute its own RDN. */
export function distinguishedName(subject: Subject): Buffer {
  const rdn = (type: string, value: string) => setOf([sequence([objectId(type), utf8String(value)])]);
  return sequence([
    ...(subject.organization ?? []).map((o) => rdn(ATTR.organization, o)),
    ...(subject.organizationalUnit ?? []).map((ou) => rdn(ATTR.organizationalUnit, ou)),
    rdn(ATTR.commonName, subject.commonName),
  ]);
}
