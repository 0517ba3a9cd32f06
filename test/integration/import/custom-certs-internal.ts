import { readFileSync } from 'node:fs';
import { makeCa, makeCert, type CertFiles } from '../../infra/pki.js';

/**
 * Objects of the shape of API Connect's custom-certs-internal.yaml (seed 002): a self-signing Issuer, CA
 * Certificates made with it, CA Issuers on their Secrets, and leaf Certificates for the table's client and server
 * certificates. No cert-manager controller runs in the test clusters, so the Secrets it would have written are
 * made here with openssl, the way it writes them (tls.crt, tls.key, ca.crt, the certificate-name annotation).
 * Also: an ACME issuer with a Certificate (not importable), and `pgo.tls` signed by a CA outside the cluster.
 */
export interface CustomCertsFixture {
  readonly objects: object[];
  readonly cas: Record<'management' | 'portal' | 'external', CertFiles>;
}

const b64 = (path: string) => Buffer.from(readFileSync(path)).toString('base64');

function tlsSecret(namespace: string, name: string, files: CertFiles, ca: CertFiles, certificateName?: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      ...(certificateName && {
        annotations: { 'cert-manager.io/certificate-name': certificateName, 'cert-manager.io/issuer-kind': 'Issuer' },
      }),
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(files.cert), 'tls.key': b64(files.key), 'ca.crt': b64(ca.cert) },
  };
}

function certificate(namespace: string, name: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name, namespace }, spec: { secretName: name, ...spec } };
}

const issuer = (namespace: string, name: string, spec: Record<string, unknown>): object => ({
  apiVersion: 'cert-manager.io/v1',
  kind: 'Issuer',
  metadata: { name, namespace },
  spec,
});

export function customCertsInternal(namespace: string, dir: string): CustomCertsFixture {
  const management = makeCa(dir, 'management-ca', 'management-ca');
  const portal = makeCa(dir, 'portal-ca', 'portal-ca');
  const external = makeCa(dir, 'external-ca', 'installer root');
  const leaf = (name: string, ca: CertFiles, kind: 'server' | 'client', sans: string[] = []) =>
    makeCert(dir, name, ca, { cn: name, kind, sans: sans.map((s) => `DNS:${s}`), days: 90 });
  const leaves = {
    'management-server': leaf('management-server', management, 'server', ['management-server', `management-server.${namespace}.svc`]),
    'management-client': leaf('management-client', management, 'client'),
    'portal-server': leaf('portal-server', portal, 'server', ['portal-server']),
    'portal-client': leaf('portal-client', portal, 'client'),
  };
  const pgo = leaf('postgres-operator', external, 'server', ['postgres-operator']);
  const usages = (kind: 'server' | 'client') => ['digital signature', 'key encipherment', `${kind} auth`];
  const ca = (name: string) =>
    certificate(namespace, name, {
      isCA: true,
      commonName: name,
      duration: '87600h',
      issuerRef: { name: 'selfsigning-issuer', kind: 'Issuer' },
      privateKey: { algorithm: 'ECDSA', size: 256 },
    });
  const leafCert = (name: keyof typeof leaves, issuerName: string, kind: 'server' | 'client', dnsNames: string[] = []) =>
    certificate(namespace, name, {
      commonName: name,
      ...(dnsNames.length && { dnsNames }),
      usages: usages(kind),
      duration: '2160h',
      renewBefore: '240h',
      issuerRef: { name: issuerName, kind: 'Issuer' },
    });
  return {
    cas: { management, portal, external },
    objects: [
      issuer(namespace, 'selfsigning-issuer', { selfSigned: {} }),
      ca('management-ca'),
      ca('portal-ca'),
      tlsSecret(namespace, 'management-ca', management, management, 'management-ca'),
      tlsSecret(namespace, 'portal-ca', portal, portal, 'portal-ca'),
      issuer(namespace, 'management-ca', { ca: { secretName: 'management-ca' } }),
      issuer(namespace, 'portal-ca', { ca: { secretName: 'portal-ca' } }),
      leafCert('management-server', 'management-ca', 'server', ['management-server', `management-server.${namespace}.svc`]),
      leafCert('management-client', 'management-ca', 'client'),
      leafCert('portal-server', 'portal-ca', 'server', ['portal-server']),
      leafCert('portal-client', 'portal-ca', 'client'),
      ...Object.entries(leaves).map(([name, files]) =>
        tlsSecret(namespace, name, files, name.startsWith('portal') ? portal : management, name),
      ),
      issuer(namespace, 'letsencrypt', {
        acme: {
          server: 'https://acme.invalid/directory',
          privateKeySecretRef: { name: 'letsencrypt-account' },
          solvers: [{ http01: { ingress: {} } }],
        },
      }),
      certificate(namespace, 'public-ui', { dnsNames: ['ui.example.com'], issuerRef: { name: 'letsencrypt', kind: 'Issuer' } }),
      tlsSecret(namespace, 'pgo.tls', pgo, external),
    ],
  };
}
