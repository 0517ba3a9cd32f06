import type { X509Certificate } from 'node:crypto';
import { children, contentOf, objectId } from './der-writer.js';

/** basicConstraints (2.5.29.19) as DER, compared as bytes. */
const BASIC_CONSTRAINTS = objectId('2.5.29.19');
const EXTENSIONS_TAG = 0xa3; // [3] EXPLICIT Extensions in TBSCertificate
const INTEGER_TAG = 0x02;

/**
 * The pathLenConstraint of a CA certificate's basicConstraints (RFC 5280 §4.2.1.9): how many intermediate CAs may
 * follow it in a path. Undefined when the certificate sets none (no limit) or is not a CA. Read with rekey's own
 * DER reader: this runs in every pre-promotion check, and node-forge costs the functions 300 KB at cold start.
 */
export function pathLenOf(cert: X509Certificate): number | undefined {
  const tbs = children(cert.raw)[0];
  const extensions = tbs ? children(tbs).find((n) => n[0] === EXTENSIONS_TAG) : undefined;
  const list = extensions ? children(extensions)[0] : undefined;
  for (const ext of list ? children(list) : []) {
    const [id, ...rest] = children(ext);
    if (!id?.equals(BASIC_CONSTRAINTS)) continue;
    const octets = rest.at(-1);
    if (!octets) return undefined;
    const integer = children(contentOf(octets)).find((f) => f[0] === INTEGER_TAG);
    if (!integer) return undefined;
    const bytes = contentOf(integer);
    // A path length is small and non-negative; anything else is read as no limit we could honour.
    if (bytes.length === 0 || bytes.length > 4 || (bytes[0] ?? 0) & 0x80) return undefined;
    return bytes.reduce((n, b) => n * 256 + b, 0);
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
