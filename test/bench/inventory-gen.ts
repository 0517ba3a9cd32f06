import type { KeyType } from '../../shared/domain/inventory/schema.js';

/** A synthetic inventory: `authorities` roots, then `certificates` leaves spread over them and over namespaces. */
export function syntheticInventory(options: {
  name: string;
  certificates: number;
  authorities?: number;
  namespaces?: number;
  key?: KeyType;
  clusters?: readonly string[];
}): string {
  const authorities = options.authorities ?? 10;
  const namespaces = options.namespaces ?? 10;
  const clusters = options.clusters ?? ['dc1'];
  const lines = [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    `metadata: {name: ${options.name}}`,
    `defaults: {key: ${options.key ?? 'ECDSA-P256'}, validity: 2160h, renewBefore: 720h, restart: none}`,
    'clusters:',
    ...clusters.map((c) => `  - {name: ${c}}`),
    'authorities:',
  ];
  for (let a = 0; a < authorities; a++) lines.push(`  - {name: ca-${a}, commonName: ca-${a}, key: ECDSA-P256, validity: 87600h}`);
  lines.push('certificates:');
  for (let i = 0; i < options.certificates; i++) {
    const ns = `ns-${i % namespaces}`;
    lines.push(
      `  - {name: svc-${i}, issuer: ca-${i % authorities}, usage: server, commonName: svc-${i}, dnsNames: [svc-${i}, svc-${i}.${ns}.svc], secret: {name: svc-${i}-tls, namespace: ${ns}}}`,
    );
  }
  return lines.join('\n') + '\n';
}
