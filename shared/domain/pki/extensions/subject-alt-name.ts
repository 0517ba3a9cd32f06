import { ia5, implicitTag, sequence } from '../der-writer.js';
import { extension } from './extension.js';

export interface AltNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
}

/** The 4 or 16 bytes of an IP address, as iPAddress wants them. */
export function ipBytes(ip: string): Buffer {
  if (!ip.includes(':')) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups: string[] = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.from(
    groups.flatMap((g) => {
      const n = parseInt(g, 16);
      return [n >> 8, n & 0xff];
    }),
  );
}

/** subjectAltName: dNSName [2], uniformResourceIdentifier [6], iPAddress [7]. Undefined when there are none. */
export function subjectAltName(names: AltNames): Buffer | undefined {
  const general = [
    ...names.dnsNames.map((d) => implicitTag(2, ia5(d))),
    ...names.uris.map((u) => implicitTag(6, ia5(u))),
    ...names.ipAddresses.map((ip) => implicitTag(7, ipBytes(ip))),
  ];
  return general.length ? extension('2.5.29.17', false, sequence(general)) : undefined;
}
