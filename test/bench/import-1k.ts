/**
 * `npx tsx test/bench/import-1k.ts [N]`: `rekey import` of N (default 1,000) cert-manager Certificates and their N
 * TLS Secrets from one namespace of dc1 (test/infra, cert-manager's CRDs installed by the bench), plus a CA issuer
 * and a Deployment per 10 Secrets. Times reading (every list call) and building the inventory, counts the API
 * requests, writes bench-results/import.json. Figures, not assertions. Deletes its namespace at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectImportSources } from '../../shared/adapters/kube/import-reader.js';
import { buildImport, readClusters } from '../../shared/app/import/index.js';
import { validateInventory } from '../../shared/domain/inventory/load.js';
import { buildCertificate, issuerFrom } from '../../shared/domain/pki/certificate.js';
import { generateKeyPair, privateKeyToPem } from '../../shared/domain/pki/keys.js';
import { loadInfraEnv } from '../infra/env.js';
import { apply, createTestNamespace, deleteNamespace, deploymentManifest } from '../infra/kube-fixtures.js';
import { recordingLogger } from '../integration/kube/support.js';

const N = Number(process.argv[2] ?? 1000);
const DAY = 86_400_000;
const env = loadInfraEnv({ require: ['kube'] });
execFileSync('bash', ['test/infra/components/cert-manager-crds.sh', 'up'], { stdio: 'inherit' });

const now = new Date();
const caKeys = generateKeyPair('ECDSA-P256');
const ca = buildCertificate({
  subject: { commonName: 'bench-ca' },
  publicKey: caKeys.publicKey,
  selfSigningKey: caKeys.privateKey,
  notBefore: now,
  notAfter: new Date(now.getTime() + 3650 * DAY),
  profile: { kind: 'authority' },
});
const issuer = issuerFrom(ca.der, caKeys.privateKey, new Date(now.getTime() + 3650 * DAY));
const b64 = (s: string) => Buffer.from(s).toString('base64');
const tls = (ns: string, name: string, cert: string, key: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: ns, annotations },
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': b64(cert), 'tls.key': b64(key), 'ca.crt': b64(ca.pem) },
});

const ns = createTestNamespace('dc1', 'bench-import');
try {
  const t0 = performance.now();
  const objects: object[] = [
    tls(ns, 'bench-ca', ca.pem, privateKeyToPem(caKeys.privateKey), { 'cert-manager.io/certificate-name': 'bench-ca' }),
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Issuer',
      metadata: { name: 'bench-ca', namespace: ns },
      spec: { ca: { secretName: 'bench-ca' } },
    },
  ];
  for (let i = 0; i < N; i++) {
    const name = `svc-${i}`;
    const keys = generateKeyPair('ECDSA-P256');
    const leaf = buildCertificate({
      subject: { commonName: name },
      publicKey: keys.publicKey,
      issuer,
      notBefore: now,
      notAfter: new Date(now.getTime() + 90 * DAY),
      profile: { kind: 'leaf', usage: 'server', altNames: { dnsNames: [name, `${name}.${ns}.svc`], ipAddresses: [], uris: [] } },
    });
    objects.push(
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name, namespace: ns },
        spec: {
          secretName: name,
          commonName: name,
          dnsNames: [name, `${name}.${ns}.svc`],
          usages: ['digital signature', 'server auth'],
          issuerRef: { name: 'bench-ca', kind: 'Issuer' },
        },
      },
      tls(ns, name, leaf.pem, privateKeyToPem(keys.privateKey), { 'cert-manager.io/certificate-name': name }),
    );
    if (i % 10 === 0)
      objects.push(
        deploymentManifest({
          name: `app-${i / 10}`,
          namespace: ns,
          replicas: 1,
          secretVolumes: Array.from({ length: 10 }, (_, k) => `svc-${i + k}`).filter((_, k) => i + k < N),
        }),
      );
  }
  for (let i = 0; i < objects.length; i += 500) apply('dc1', objects.slice(i, i + 500));
  const setupMs = performance.now() - t0;

  const log = recordingLogger();
  const t1 = performance.now();
  const sources = connectImportSources({ kubeconfig: env.kube.kubeconfig, contexts: ['dc1'], log });
  const snapshots = await readClusters(sources, { namespaces: [ns] });
  const t2 = performance.now();
  const plan = buildImport(snapshots, { name: 'bench', now: new Date() });
  const inventory = validateInventory(plan.document, 'bench');
  const t3 = performance.now();
  const requests = log.requests();
  const byPath = new Map<string, number>();
  for (const r of requests) {
    const key = `${r.method} ${r.path.replace(ns, '<ns>')}`;
    byPath.set(key, (byPath.get(key) ?? 0) + 1);
  }
  const result = {
    certificates: N,
    secrets: N + 1,
    imported: {
      authorities: inventory.authorities.length,
      certificates: inventory.certificates.length,
      notImportable: plan.notImportable.length,
    },
    setupMs: Math.round(setupMs),
    readMs: Math.round(t2 - t1),
    buildMs: Math.round(t3 - t2),
    requests: requests.length,
    requestsByPath: Object.fromEntries(byPath),
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(join('bench-results', 'import.json'), JSON.stringify(result, null, 2));
} finally {
  deleteNamespace('dc1', ns);
}
