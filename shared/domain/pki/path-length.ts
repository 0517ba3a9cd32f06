import type { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { fromDer, type Asn1 } from './der.js';

const BASIC_CONSTRAINTS = '2.5.29.19';
const { asn1 } = forge;

const children = (node: Asn1 | undefined): Asn1[] => (node && Array.isArray(node.value) ? node.value : []);

/**
 * The pathLenConstraint of a CA certificate's basicConstraints (RFC 5280 §4.2.1.9): how many intermediate CAs may
 * follow it in a path. Undefined when the certificate sets none (no limit) or is not a CA.
 */
export function pathLenOf(cert: X509Certificate): number | undefined {
  const tbs = children(fromDer(cert.raw))[0];
  const extensions = children(tbs).find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  for (const ext of children(children(extensions)[0])) {
    const [id, ...rest] = children(ext);
    if (!id || typeof id.value !== 'string' || asn1.derToOid(id.value) !== BASIC_CONSTRAINTS) continue;
    const octets = rest.at(-1);
    if (!octets || typeof octets.value !== 'string') return undefined;
    const fields = children(fromDer(Buffer.from(octets.value, 'binary')));
    const integer = fields.find((f) => f.tagClass === asn1.Class.UNIVERSAL && f.type === asn1.Type.INTEGER);
    return integer && typeof integer.value === 'string' ? asn1.derToInteger(integer.value) : undefined;
  }
  return undefined;
}

/**
 * Path length problems of a certification path, from the certificate being checked up to its root: every CA in it
 * must allow the intermediate CAs that follow it (the checked certificate counts when it is itself a CA).
 */
export function pathLengthProblems(path: readonly X509Certificate[]): string[] {
  const problems: string[] = [];
  const firstIsCa = path[0]?.ca ?? false;
  path.forEach((cert, i) => {
    if (i === 0) return;
    const following = i - (firstIsCa ? 0 : 1);
    const limit = pathLenOf(cert);
    if (limit !== undefined && following > limit) {
      problems.push(`${cert.subject.replace(/\n/g, ', ')} has pathLen ${limit} but ${following} intermediate CA(s) follow it`);
    }
  });
  return problems;
}
