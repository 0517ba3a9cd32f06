import { LIMITS, URI_SCHEMES, type UriScheme } from './limits.js';
import { quote, unsafeCharacter } from './text.js';
import { defined } from '../defined.js';

/**
 * Validators for what a certificate names (DNS names, IP addresses, URIs) and where files go. Each returns
 * undefined when the value is fine, or the problem as a sentence that quotes the value safely.
 */

const LABEL = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;
const DIGITS = /^[0-9]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LOOKS_LIKE_IPV4 = /^\d+(\.\d+){3}$/;

/**
 * A DNS name for a dNSName SAN: RFC 1035/1123 host name syntax (letters, digits, inner hyphens; labels of at
 * most 63 octets, at most 253 in all, no trailing dot), internationalised names in their A-label form (`xn--`),
 * and a wildcard only as the whole left-most label over at least two more labels (`*.example.com`, not `*.com`).
 * A name whose last label is all digits is refused: it is an IP address or would be read as one.
 */
export function dnsNameProblem(name: string): string | undefined {
  const bad = (why: string) => `not a DNS name: ${quote(name)} (${why})`;
  const unsafe = unsafeCharacter(name);
  if (unsafe) return bad(unsafe);
  if (name.length === 0) return bad('empty');
  if (name.length > LIMITS.dnsName) return bad(`${name.length} characters; at most ${LIMITS.dnsName}`);
  if (LOOKS_LIKE_IPV4.test(name)) return `${quote(name)} looks like an IP address, not a DNS name: put it in ipAddresses`;
  if (/[^\x20-\x7e]/.test(name)) return bad('only ASCII: write an internationalised name in its xn-- form');
  if (name.endsWith('.')) return bad('no trailing dot');
  const labels = name.split('.');
  for (const [i, label] of labels.entries()) {
    if (label === '*') {
      if (i !== 0) return bad('a wildcard is only allowed as the whole left-most label');
      if (labels.length < 3) return bad('a wildcard needs at least two labels after it (*.example.com, not *.com)');
      continue;
    }
    if (label.includes('*')) return bad('a wildcard must be the whole left-most label ("*.example.com"), not part of one');
    if (label.length === 0) return bad('empty label');
    if (label.length > LIMITS.dnsLabel) return bad(`label of ${label.length} characters; at most ${LIMITS.dnsLabel}`);
    if (!LABEL.test(label)) return bad('letters, digits and inner hyphens only in each label');
  }
  if (DIGITS.test(defined(labels[labels.length - 1]))) return bad('the last label must not be all digits');
  return undefined;
}

/** The 16-bit groups of an IPv6 address (an embedded IPv4 tail converted to two groups), or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  let s = text;
  let v4: number[] = [];
  if (s.includes('.')) {
    // An IPv4 address may write the last 32 bits (::ffff:1.2.3.4, 64:ff9b::1.2.3.4; RFC 4291 2.2).
    const at = s.lastIndexOf(':');
    const quad = s.slice(at + 1);
    if (at < 0 || !IPV4.test(quad)) return undefined;
    const b = quad.split('.').map(Number) as [number, number, number, number];
    v4 = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    s = s.slice(0, at + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string): number[] | undefined => {
    if (h === '') return [];
    const parts = h.split(':');
    if (parts.some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
    return parts.map((g) => parseInt(g, 16));
  };
  const head = parse(defined(halves[0]));
  const rest = halves.length === 2 ? parse(defined(halves[1])) : [];
  if (!head || !rest) return undefined;
  if (halves.length === 2) {
    const known = head.length + rest.length + v4.length;
    if (known > 7) return undefined;
    return [...head, ...Array<number>(8 - known).fill(0), ...rest, ...v4];
  }
  const all = [...head, ...v4];
  return all.length === 8 ? all : undefined;
}

/**
 * Parses an IP address for an iPAddress SAN: dotted-quad IPv4 (no leading zeros, which some parsers read as
 * octal) or IPv6 in any RFC 4291 form, including an embedded IPv4 tail (`::ffff:1.2.3.4`). No zone ids, no
 * prefixes. Returns the canonical text (IPv6 as eight hex groups with `::`, embedded IPv4 written in hex, so
 * the certificate builder needs only one form), or undefined.
 */
export function canonicalIp(text: string): string | undefined {
  if (IPV4.test(text)) return text;
  if (!text.includes(':')) return undefined;
  const groups = ipv6Groups(text);
  if (!groups) return undefined;
  // RFC 5952: compress the longest run of two or more zero groups, lower-case hex.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function ipAddressProblem(text: string): string | undefined {
  if (canonicalIp(text) !== undefined) return undefined;
  const hint = text.includes('%')
    ? ' (no zone ids)'
    : text.includes('/')
      ? ' (an address, not a prefix)'
      : /(^|\.)0\d/.test(text) && LOOKS_LIKE_IPV4.test(text)
        ? ' (no leading zeros)'
        : '';
  return `not an IP address: ${quote(text)}${hint}`;
}

const SPIFFE_TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SPIFFE_SEGMENT = /^[A-Za-z0-9._-]+$/;
const URN = /^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+$/i;

/**
 * A URI for a uniformResourceIdentifier SAN. Only the schemes of `URI_SCHEMES` (spiffe, https, http, urn):
 * a certificate names an identity or an origin, never `javascript:`, `file:` or `data:`. No user info (a
 * password in a certificate is public), no whitespace or controls, at most `LIMITS.uri` characters.
 */
export function uriProblem(uri: string): string | undefined {
  const bad = (why: string) => `not an allowed URI: ${quote(uri)} (${why})`;
  const unsafe = unsafeCharacter(uri);
  if (unsafe) return bad(unsafe);
  if (uri.length > LIMITS.uri) return bad(`${uri.length} characters; at most ${LIMITS.uri}`);
  if (/[\s<>"{}|\\^`]/.test(uri) || /[^\x21-\x7e]/.test(uri)) return bad('no spaces or unencoded special characters');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (!scheme) return bad('no scheme');
  if (!(URI_SCHEMES as readonly string[]).includes(scheme))
    return bad(`scheme "${scheme}:" is not allowed; use one of ${URI_SCHEMES.join(', ')}`);
  switch (scheme as UriScheme) {
    case 'urn':
      return URN.test(uri) ? undefined : bad('expected urn:<namespace>:<name>');
    case 'spiffe': {
      // SPIFFE ID: spiffe://<trust domain>/<path>, lower-case trust domain, no port, user info, query or fragment.
      const m = /^spiffe:\/\/([^/]+)((?:\/[^/]+)*)$/.exec(uri);
      if (!m || !SPIFFE_TRUST_DOMAIN.test(defined(m[1])))
        return bad('expected spiffe://<trust-domain>/<path> with a lower-case trust domain');
      if (
        defined(m[2])
          .split('/')
          .slice(1)
          .some((s) => !SPIFFE_SEGMENT.test(s) || s === '.' || s === '..')
      )
        return bad('SPIFFE path segments are letters, digits, ".", "_" and "-"');
      return undefined;
    }
    case 'https':
    case 'http': {
      let url: URL;
      try {
        url = new URL(uri);
      } catch {
        return bad('not a URL');
      }
      if (!/^https?:\/\/[^/?#]/.test(uri) || !url.hostname) return bad('no host');
      if (url.username || url.password) return bad('no user or password in a certificate');
      return undefined;
    }
    default: {
      const never: never = scheme as never;
      return never;
    }
  }
}

/** `cert`, `key`, `ca` of a `files` target: a plain name inside `dir`, never a path that could leave it. */
export function fileNameProblem(name: string): string | undefined {
  const unsafe = unsafeCharacter(name);
  if (unsafe) return `not a plain file name: ${quote(name)} (${unsafe})`;
  if (name.length === 0) return 'must not be empty';
  if (name.includes('/') || name.includes('\\')) return `not a plain file name: ${quote(name)} (no "/" or "\\": files go into dir)`;
  if (name === '.' || name === '..') return `not a plain file name: ${quote(name)}`;
  if (Buffer.byteLength(name) > LIMITS.fileName) return `file name of ${Buffer.byteLength(name)} bytes; at most ${LIMITS.fileName}`;
  return undefined;
}

/** `dir` of a `files` target: an absolute, normalised path (no `.` or `..` segments). */
export function directoryProblem(dir: string): string | undefined {
  const unsafe = unsafeCharacter(dir);
  if (unsafe) return `not a usable directory: ${quote(dir)} (${unsafe})`;
  if (!dir.startsWith('/')) return `must be an absolute path: ${quote(dir)}`;
  if (dir.split('/').some((s) => s === '..' || s === '.')) return `must not contain "." or ".." segments: ${quote(dir)}`;
  if (dir.length > LIMITS.path) return `path of ${dir.length} characters; at most ${LIMITS.path}`;
  return undefined;
}
