import { z } from 'zod';
import { parseDuration } from '../duration.js';

/** The one definition of the inventory's shape: validation and the published JSON Schema both come from it. */

export const KEY_TYPES = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256', 'ECDSA-P384', 'Ed25519'] as const;
export const USAGES = ['client', 'server', 'clientserver'] as const;
export const RESTART_POLICIES = ['none', 'rolling', 'together'] as const;
export const CREDENTIAL_TYPES = ['password', 'jwt-signing-key'] as const;
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Pod'] as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ITEM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: 'not a duration (Go style: 2160h, 30m, 90s)' })
  .refine((s) => (parseDuration(s) ?? 0) >= 0, { message: 'must not be negative' })
  .meta({ description: 'Go-style duration: 2160h, 30m, 90s' });

const itemName = z.string().regex(ITEM_NAME, 'letters, digits, ".", "_" and "-" only, at most 128');
const secretName = z.string().max(253).regex(DNS_SUBDOMAIN, 'not a valid Kubernetes name (DNS-1123 subdomain)');
const namespace = z.string().max(63).regex(DNS_LABEL, 'not a valid namespace (DNS-1123 label)');

export const keyType = z.enum(KEY_TYPES);

export const secretTarget = z.strictObject({
  name: secretName,
  namespace,
  clusters: z.array(z.string()).min(1).optional().meta({ description: 'clusters to write to; all when left out' }),
});

const reloadDescription =
  'command run through `sh -c` after the files changed; a reload that fails or times out stays owed and is retried by the next apply or rotation';
const reloadTimeoutDescription = 'how long reload may run before its process group is killed (default 60s)';
const reloadTimeout = duration.refine((s) => (parseDuration(s) ?? 0) > 0, { message: 'must be longer than 0' });

export const fileTarget = z.strictObject({
  dir: z.string().min(1),
  cert: z.string().min(1).default('tls.crt'),
  key: z.string().min(1).default('tls.key'),
  ca: z.string().min(1).optional(),
  mode: z.string().regex(/^0?[0-7]{3}$/, 'an octal file mode such as "0600"').default('0600'),
  reload: z.string().min(1).optional().meta({ description: reloadDescription }),
  reloadTimeout: reloadTimeout.optional().meta({ description: reloadTimeoutDescription }),
});

const workloadRef = z
  .string()
  .regex(new RegExp(`^(${WORKLOAD_KINDS.join('|')})/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`), 'expected Kind/name with Kind one of ' + WORKLOAD_KINDS.join(', '));

export const consumer = z.union([
  workloadRef,
  z.strictObject({
    selector: z.string().min(1).meta({ description: 'label selector, e.g. app.kubernetes.io/part-of=portal' }),
    namespace: namespace.optional(),
  }),
]);

export const restart = z.union([
  z.enum(RESTART_POLICIES),
  z.strictObject({ policy: z.enum(RESTART_POLICIES), within: duration.optional() }),
]);

const subject = {
  commonName: z.string().min(1).max(64),
  organization: z.array(z.string().min(1)).optional(),
  organizationalUnit: z.array(z.string().min(1)).optional(),
};

const lifetimes = {
  key: keyType.optional(),
  validity: duration.optional(),
  renewBefore: duration.optional(),
};

export const authority = z.strictObject({
  name: itemName,
  ...subject,
  ...lifetimes,
  parent: z.string().optional().meta({ description: 'makes this an intermediate CA under the named authority' }),
  pathLen: z.number().int().min(0).max(10).optional(),
  secret: secretTarget.optional().meta({ description: 'publish the CA certificate (no key) as a Secret' }),
  files: z.strictObject({ dir: z.string().min(1), cert: z.string().min(1).default('ca.crt'), mode: z.string().regex(/^0?[0-7]{3}$/).default('0644'), reload: z.string().optional().meta({ description: reloadDescription }), reloadTimeout: reloadTimeout.optional().meta({ description: reloadTimeoutDescription }) }).optional(),
});

export const certificate = z.strictObject({
  name: itemName,
  issuer: z.string().min(1),
  usage: z.enum(USAGES),
  ...subject,
  ...lifetimes,
  dnsNames: z.array(z.string().min(1)).optional(),
  ipAddresses: z.array(z.string().min(1)).optional(),
  uris: z.array(z.string().url()).optional(),
  perReplica: z.strictObject({ statefulSet: z.string().regex(DNS_LABEL), replicas: z.number().int().min(1).max(1000) }).optional(),
  secret: secretTarget.optional(),
  files: fileTarget.optional(),
  adopt: z.boolean().optional().meta({ description: 'take over an existing Secret rekey did not write; keep it while it is valid' }),
  consumers: z.array(consumer).optional(),
  restart: restart.optional(),
});

const database = z.strictObject({
  engine: z.literal('postgres'),
  urlFrom: z.string().regex(/^(env|file):.+$/, 'expected env:VAR or file:PATH'),
  role: z.string().min(1),
  strategy: z.enum(['alternating', 'single']).default('single'),
});

const pause = z.strictObject({
  object: z.strictObject({ apiVersion: z.string().min(1), kind: z.string().min(1), namespace: namespace.optional(), name: z.string().min(1) }),
  patch: z.record(z.string(), z.unknown()),
  resume: z.record(z.string(), z.unknown()),
});

export const credential = z.strictObject({
  name: itemName,
  type: z.enum(CREDENTIAL_TYPES),
  length: z.number().int().min(16).max(256).optional().meta({ description: 'password length (default 32)' }),
  algorithm: z.enum(['ES256', 'ES384', 'EdDSA', 'RS256']).optional().meta({ description: 'JWT signing algorithm (default ES256)' }),
  tokenLifetime: duration.optional().meta({ description: 'longest lifetime of a token signed with the key' }),
  rotateEvery: duration.optional(),
  secret: secretTarget.optional(),
  files: fileTarget.optional(),
  database: database.optional(),
  pause: pause.optional(),
  adopt: z.boolean().optional(),
  consumers: z.array(consumer).optional(),
  restart: restart.optional(),
});

export const cluster = z.strictObject({
  name: z.string().regex(DNS_LABEL, 'a DNS-1123 label'),
  context: z.string().min(1).optional().meta({ description: 'kubeconfig context; defaults to the name' }),
});

export const inventorySchema = z.strictObject({
  apiVersion: z.literal('rekey/v1'),
  kind: z.literal('Inventory'),
  metadata: z.strictObject({ name: z.string().regex(DNS_LABEL, 'a DNS-1123 label') }),
  defaults: z
    .strictObject({ ...lifetimes, restart: restart.optional() })
    .optional(),
  clusters: z.array(cluster).min(1).optional(),
  authorities: z.array(authority).optional(),
  certificates: z.array(certificate).optional(),
  credentials: z.array(credential).optional(),
});

export type InventoryDocument = z.infer<typeof inventorySchema>;
export type AuthorityDocument = z.infer<typeof authority>;
export type CertificateDocument = z.infer<typeof certificate>;
export type CredentialDocument = z.infer<typeof credential>;
export type ConsumerDocument = z.infer<typeof consumer>;
export type RestartDocument = z.infer<typeof restart>;
export type KeyType = (typeof KEY_TYPES)[number];
export type Usage = (typeof USAGES)[number];
export type RestartPolicyName = (typeof RESTART_POLICIES)[number];
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
