import type { ObservedSecret, SecretUse } from '../../ports/cluster.js';

/** A cert-manager Certificate (cert-manager.io/v1), the fields import reads. */
export interface CmCertificate {
  readonly namespace: string;
  readonly name: string;
  readonly secretName: string;
  readonly issuerRef: {
    readonly name: string;
    /** Issuer, ClusterIssuer, or an external issuer's kind. */ readonly kind: string;
    readonly group?: string;
  };
  readonly isCA: boolean;
  readonly commonName?: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
  /** cert-manager's usage names: `server auth`, `client auth`, `digital signature`, ... */
  readonly usages: readonly string[];
  readonly duration?: string;
  readonly renewBefore?: string;
  readonly organizations: readonly string[];
}

/** A cert-manager Issuer or ClusterIssuer: its type (`ca`, `selfSigned`, `acme`, `vault`, ...) and CA Secret. */
export interface CmIssuer {
  readonly kind: 'Issuer' | 'ClusterIssuer';
  /** Issuers only; ClusterIssuers read their Secret from cert-manager's cluster resource namespace. */
  readonly namespace?: string;
  readonly name: string;
  readonly type: string;
  readonly caSecretName?: string;
}

/**
 * What import reads from one cluster (a kubeconfig context). Read-only: an implementation lists and gets, and
 * never writes. Secret data is only read for TLS Secrets, to check their certificates.
 */
export interface ImportSource {
  readonly cluster: string;
  /** cert-manager's objects; `installed: false` when its CRDs are not in the cluster. */
  certManager(
    namespaces: readonly string[] | undefined,
  ): Promise<{ readonly installed: boolean; readonly certificates: readonly CmCertificate[]; readonly issuers: readonly CmIssuer[] }>;
  /** Secrets of type kubernetes.io/tls, in the given namespaces or all. */
  tlsSecrets(namespaces: readonly string[] | undefined): Promise<ObservedSecret[]>;
  getSecret(namespace: string, name: string): Promise<ObservedSecret | undefined>;
  /** Workloads whose pods use Secrets in a namespace. */
  secretUses(namespace: string): Promise<SecretUse[]>;
}
