import type { AlertRule } from '../alerts/rule.js';
import type { CredentialType, KeyType, RestartPolicyName, Usage } from './schema.js';

/** The inventory after validation, with defaults applied and durations in milliseconds. */

export const ItemKind = { Authority: 'authority', Certificate: 'certificate', Credential: 'credential' } as const;
export type ItemKind = (typeof ItemKind)[keyof typeof ItemKind];

export interface Subject {
  readonly commonName: string;
  readonly organization?: readonly string[];
  readonly organizationalUnit?: readonly string[];
}

export interface SecretPlacement {
  readonly name: string;
  readonly namespace: string;
  /** Resolved: every cluster named, never empty. */
  readonly clusters: readonly string[];
}

export interface FilePlacement {
  readonly dir: string;
  readonly cert: string;
  readonly key?: string;
  readonly ca?: string;
  readonly mode: number;
  /** Run through `sh -c` after the files changed; owed until it exits 0. */
  readonly reload?: string;
  /** How long `reload` may run before its process group is killed; 60 s when left out. */
  readonly reloadTimeoutMs?: number;
  /** `versioned`: a version folder per write behind a `..data` symlink, the names linked into it; plain files when left out. */
  readonly layout?: FileLayout;
}

export const FileLayout = { Files: 'files', Versioned: 'versioned' } as const;
export type FileLayout = (typeof FileLayout)[keyof typeof FileLayout];

/** A workload to restart when the item changes; `clusters` (resolved: absent means every cluster of the item) limits where. */
export type Consumer =
  | {
      readonly kind: 'workload';
      readonly workloadKind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Pod';
      readonly name: string;
      readonly clusters?: readonly string[];
    }
  | { readonly kind: 'selector'; readonly selector: string; readonly namespace?: string; readonly clusters?: readonly string[] };

/** Whether the consumer runs in `cluster` (one listed with `clusters` runs only there). */
export const consumesIn = (consumer: Consumer, cluster: string): boolean =>
  consumer.clusters === undefined || consumer.clusters.includes(cluster);

/** The item's consumers that run in `cluster`. */
export const consumersIn = (item: { readonly consumers: readonly Consumer[] }, cluster: string): Consumer[] =>
  item.consumers.filter((c) => consumesIn(c, cluster));

/** How a consumer is shown: `Kind/name` or `selector S [in NS]`, with ` (dc1)` when it runs in some clusters only. */
export function consumerText(c: Consumer): string {
  const base = c.kind === 'workload' ? `${c.workloadKind}/${c.name}` : `selector ${c.namespace ? `${c.namespace}/` : ''}${c.selector}`;
  return c.clusters ? `${base} (${c.clusters.join(', ')})` : base;
}

export interface RestartPolicy {
  readonly policy: RestartPolicyName;
  /** Deadline for all clusters to finish, for `together` (and optionally `rolling`). */
  readonly withinMs?: number;
}

/** A TLS endpoint checked after a rotation (see shared/app/verify). */
export interface Probe {
  readonly host: string;
  readonly port: number;
  readonly serverName?: string;
  readonly startTls?: 'postgres';
  /** A certificate item whose current client certificate is presented. */
  readonly clientCert?: string;
  readonly timeoutMs: number;
}

interface ItemBase {
  readonly name: string;
  /** Field path of the item in the document, e.g. `certificates[3]`, for messages. */
  readonly path: string;
  readonly secret?: SecretPlacement;
  readonly files?: FilePlacement;
  readonly adopt: boolean;
  readonly consumers: readonly Consumer[];
  readonly restart: RestartPolicy;
}

/** An authority run elsewhere (see `external` in the schema). */
export type ExternalAuthority =
  | { readonly awsPrivateCa: { readonly arn: string; readonly signingAlgorithm: string; readonly templateArn?: string } }
  | {
      readonly acme: {
        readonly directory: string;
        readonly email: string;
        readonly eab?: { readonly kid: string; readonly hmacKeyFrom: string };
        readonly solver: { readonly dns01: { readonly route53: { readonly hostedZoneId: string }; readonly propagationDelay?: string } };
        readonly roots?: string;
      };
    };

export interface Authority extends ItemBase {
  readonly kind: typeof ItemKind.Authority;
  readonly subject: Subject;
  readonly keyType: KeyType;
  readonly validityMs: number;
  readonly renewBeforeMs: number;
  readonly parent?: string;
  readonly pathLen?: number;
  /** Endpoints that must serve a chain ending at this authority. */
  readonly probes?: readonly Probe[];
  /** Signed elsewhere: rekey keeps its trust bundle, and signs nothing with a key of its own. */
  readonly external?: ExternalAuthority;
}

export interface Certificate extends ItemBase {
  readonly kind: typeof ItemKind.Certificate;
  readonly issuer: string;
  readonly usage: Usage;
  readonly subject: Subject;
  readonly keyType: KeyType;
  readonly validityMs: number;
  readonly renewBeforeMs: number;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
  readonly perReplica?: { readonly statefulSet: string; readonly replicas: number };
  /** Endpoints that must serve this certificate after a rotation. */
  readonly probes?: readonly Probe[];
}

export interface DatabaseLogin {
  readonly engine: 'postgres';
  readonly urlFrom: string;
  readonly role: string;
  readonly strategy: 'alternating' | 'single';
  /** Where consumers connect: written into the Secret beside username and password when given. */
  readonly host?: string;
  readonly port?: number;
  readonly dbname?: string;
}

export interface PauseSpec {
  readonly object: { readonly apiVersion: string; readonly kind: string; readonly namespace?: string; readonly name: string };
  readonly patch: Readonly<Record<string, unknown>>;
  readonly resume: Readonly<Record<string, unknown>>;
}

/** A JWT minted from a signing-key credential into a Secret (key `token`). */
export interface TokenSpec {
  readonly signingKey: string;
  readonly claims: { readonly sub?: string; readonly aud?: string; readonly scope?: string; readonly iss?: string };
  readonly lifetimeMs: number;
}

export interface Credential extends ItemBase {
  readonly kind: typeof ItemKind.Credential;
  readonly type: CredentialType;
  readonly length: number;
  readonly algorithm: 'ES256' | 'ES384' | 'EdDSA' | 'RS256';
  readonly tokenLifetimeMs: number;
  readonly rotateEveryMs: number;
  readonly database?: DatabaseLogin;
  readonly pause?: PauseSpec;
  /** jwt-signing-key: workloads restarted after the new public key is published, before the new key signs. */
  readonly verifiers: readonly Consumer[];
  /** jwt-signing-key: how long a published key set takes to reach verifiers. */
  readonly propagationMs?: number;
  /** jwt-signing-key: the Secret (beside `secret`) that holds only `jwks.json`, for verifiers. */
  readonly jwksSecret?: string;
  /** jwt-token only. */
  readonly token?: TokenSpec;
}

export type Item = Authority | Certificate | Credential;

export interface ClusterRef {
  readonly name: string;
  readonly context: string;
}

/** A CSR enrolment profile (POST /v1/enrol). */
export interface EnrolProfile {
  readonly name: string;
  readonly path: string;
  readonly issuer: string;
  readonly usage: Usage;
  readonly allowedNames: readonly string[];
  readonly validityMs: number;
  readonly tokenScope: string;
}

export interface Inventory {
  readonly name: string;
  readonly clusters: readonly ClusterRef[];
  readonly authorities: readonly Authority[];
  readonly certificates: readonly Certificate[];
  readonly credentials: readonly Credential[];
  readonly items: ReadonlyMap<string, Item>;
  /** CSR enrolment profiles (absent: no enrolment). */
  readonly enrol?: readonly EnrolProfile[];
  /** Alert-driven remediation rules (absent or empty: alerts change nothing). */
  readonly alerts?: readonly AlertRule[];
  /** Where the API is reachable (absent: enrolled certificates carry no CRL Distribution Point). */
  readonly api?: { readonly publicUrl: string };
}

export const DEFAULT_CLUSTER = 'default';
