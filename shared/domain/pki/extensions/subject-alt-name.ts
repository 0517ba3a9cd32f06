import { implicitPrimitive, seq } from '../der.js';
import { extension } from './extension.js';

export interface AltNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
}

/** The 4 or 16 bytes of an IP address, as iPAddress wants them. */
export function ipBytes(ip: string): string {
  if (!ip.includes(':')) return String.fromCharCode(...ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => { const n = parseInt(g, 16); return String.fromCharCode(n >> 8, n & 0xff); }).join('');
}

/** subjectAltName: dNSName [2], uniformResourceIdentifier [6], iPAddress [7]. Undefined when there are none. */
export function subjectAltName(names: AltNames) {
  const general = [
    ...names.dnsNames.map((d) => implicitPrimitive(2, d)),
    ...names.uris.map((u) => implicitPrimitive(6, u)),
    ...names.ipAddresses.map((ip) => implicitPrimitive(7, ipBytes(ip))),
  ];
  return general.length ? extension('2.5.29.17', false, seq(general)) : undefined;
}
