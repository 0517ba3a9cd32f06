import { z } from 'zod';
import { formatDuration, parseDuration } from '../duration.js';
import { alertRuleSchema } from '../alerts/rule.js';
import { LIMITS, URI_SCHEMES } from './limits.js';
import { directoryProblem, dnsNameProblem, fileNameProblem, ipAddressProblem, uriProblem } from './names.js';
import { SAFE_COMMAND, SAFE_TEXT, unsafeCharacter } from './text.js';

/** The one definition of the inventory's shape: validation and the published JSON Schema both come from it. */

export const KEY_TYPES = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256', 'ECDSA-P384', 'Ed25519'] as const;
export const USAGES = ['client', 'server', 'clientserver'] as const;
export const RESTART_POLICIES = ['none', 'rolling', 'together'] as const;
export const CREDENTIAL_TYPES = ['password', 'jwt-signing-key', 'jwt-token'] as const;
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Pod'] as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ITEM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const STARTTLS_PROTOCOLS = ['postgres'] as const;
const MAX_PROBES = 32;

/**
 * Builds every schema of the inventory. Called once, on first use (`inventorySchema()`): a Lambda function that
 * never validates an inventory text does not pay for building them at import (issue 14, target 5).
 */
function buildSchemas() {
  const duration = z
    .string()
    .refine((s) => parseDuration(s) !== undefined, { error: 'not a duration (Go style: 2160h, 30m, 90s)' })
    .refine((s) => (parseDuration(s) ?? 0) >= 0, { error: 'must not be negative' })
    .meta({ description: 'Go-style duration: 2160h, 30m, 90s' });

  /** A validity: a duration of at least `LIMITS.minValidityMs` (0 and `1ms` are refused here, not as a renewBefore error). */
  const validity = duration
    .refine(
      (s) => {
        const ms = parseDuration(s);
        return ms === undefined || ms < 0 || ms >= LIMITS.minValidityMs;
      },
      { error: `must be at least ${formatDuration(LIMITS.minValidityMs)}` },
    )
    .meta({ description: `Go-style duration, at least ${formatDuration(LIMITS.minValidityMs)}: 2160h, 90m` });

  /** Adds the problem a validator finds (undefined: none) as the value's issue. */
  const check = (problem: (value: string) => string | undefined) => (value: string, ctx: z.core.$RefinementCtx<string>) => {
    const found = problem(value);
    if (found !== undefined) ctx.addIssue({ code: 'custom', message: found, input: value });
  };

  /**
   * Free text that ends up in a certificate, a file name, a command or a terminal: no control characters (NUL,
   * newline, escape...), no bidirectional overrides or isolates, at most `max` characters.
   */
  const text = (max: number, description?: string) =>
    z
      .string()
      .min(1, 'must not be empty')
      .max(max, `at most ${max} characters`)
      .superRefine(check((v) => unsafeCharacter(v) && `must not contain a ${unsafeCharacter(v)}`))
      .meta({ pattern: SAFE_TEXT.source, ...(description && { description }) });

  const list = <T extends z.ZodType>(element: T, max: number, what: string) => z.array(element).max(max, `at most ${max} ${what}`);

  const itemName = z.string().regex(ITEM_NAME, 'letters, digits, ".", "_" and "-" only, at most 128');
  const secretName = z.string().max(253).regex(DNS_SUBDOMAIN, 'not a valid Kubernetes name (DNS-1123 subdomain)');
  const namespace = z.string().max(63).regex(DNS_LABEL, 'not a valid namespace (DNS-1123 label)');
  const clusterName = z.string().max(63, 'at most 63 characters').regex(DNS_LABEL, 'a DNS-1123 label');

  const keyType = z.enum(KEY_TYPES);

  const secretTarget = z.strictObject({
    name: secretName,
    namespace,
    clusters: list(clusterName, LIMITS.clusters, 'clusters')
      .min(1)
      .optional()
      .meta({ description: `clusters to write to; all when left out (at most ${LIMITS.clusters})` }),
  });

  const reloadDescription =
    'command run through `sh -c` after the files changed; a reload that fails or times out stays owed and is retried by the next apply or rotation';
  const reloadTimeoutDescription = 'how long reload may run before its process group is killed (default 60s)';
  const reloadTimeout = duration.refine((s) => (parseDuration(s) ?? 0) > 0, { error: 'must be longer than 0' });

  const directory = z.string().superRefine(check(directoryProblem)).meta({ description: 'absolute directory the files are written to' });
  const fileName = z
    .string()
    .superRefine(check(fileNameProblem))
    .meta({ description: `a plain file name inside dir: no "/", not ".." (at most ${LIMITS.fileName} bytes)` });
  const fileMode = z
    .string()
    .regex(/^0?[0-7]{3}$/, 'an octal file mode such as "0600"')
    .refine((m) => !/^0?[0-7]{3}$/.test(m) || (parseInt(m, 8) & 0o022) === 0, {
      error: 'group and other must not be able to write ("0600", "0640" or "0644")',
    })
    .meta({ description: 'octal mode of the files; group/other write is refused, group/other read of a key file is warned about' });
  const reload = z
    .string()
    .min(1)
    .max(LIMITS.command, `at most ${LIMITS.command} characters`)
    .regex(SAFE_COMMAND, 'must not contain control characters other than tab and newline, or bidirectional overrides')
    .meta({ description: reloadDescription });

  const fileTarget = z.strictObject({
    dir: directory,
    cert: fileName.default('tls.crt'),
    key: fileName.default('tls.key'),
    ca: fileName.optional(),
    mode: fileMode.default('0600'),
    reload: reload.optional(),
    reloadTimeout: reloadTimeout.optional().meta({ description: reloadTimeoutDescription }),
    layout: z.enum(['files', 'versioned']).optional().meta({
      description:
        'files (default): plain files, replaced one after the other; versioned: a folder per version behind a ..data symlink, the names symlinks into it, so certificate, key and CA switch together in one rename',
    }),
  });

  const workloadRef = z
    .string()
    .max(LIMITS.text, `at most ${LIMITS.text} characters`)
    .regex(
      new RegExp(`^(${WORKLOAD_KINDS.join('|')})/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`),
      'expected Kind/name with Kind one of ' + WORKLOAD_KINDS.join(', '),
    );

  const consumerClusters = list(clusterName, LIMITS.clusters, 'clusters').min(1).optional().meta({
    description: 'clusters where this consumer runs (restarted and looked for only there); every cluster of the item when left out',
  });

  const consumer = z.union([
    workloadRef,
    z.strictObject({
      ref: workloadRef.meta({ description: 'Kind/name of the workload' }),
      clusters: consumerClusters,
    }),
    z.strictObject({
      selector: text(LIMITS.text, 'label selector, e.g. app.kubernetes.io/part-of=portal'),
      namespace: namespace.optional(),
      clusters: consumerClusters,
    }),
  ]);

  const restart = z.union([z.enum(RESTART_POLICIES), z.strictObject({ policy: z.enum(RESTART_POLICIES), within: duration.optional() })]);

  /** An endpoint that serves the item (or a chain of the authority), checked by a TLS handshake after a rotation. */
  const probe = z.strictObject({
    tls: z
      .string()
      .max(262, 'at most 262 characters')
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$/, 'expected host:port ([IPv6]:port)')
      .meta({ description: 'host:port to handshake with' }),
    serverName: text(253).optional().meta({ description: 'SNI; the host when left out' }),
    startTls: z.enum(STARTTLS_PROTOCOLS).optional().meta({ description: 'ask for TLS in the protocol first (PostgreSQL SSLRequest)' }),
    clientCert: text(LIMITS.text)
      .optional()
      .meta({ description: 'certificate item whose current client certificate is presented; the server must accept it' }),
    timeout: duration.optional().meta({ description: 'deadline of the whole probe (default 10s); no answer in time fails it' }),
  });

  const consumers = list(consumer, LIMITS.consumers, 'consumers').meta({
    description: `workloads to restart when the item changes (at most ${LIMITS.consumers})`,
  });

  /** Subject names, with RFC 5280's upper bounds (ub-common-name, ub-organization-name, ub-organizational-unit-name). */
  const subject = {
    commonName: text(
      LIMITS.commonName,
      `subject common name (RFC 5280: at most ${LIMITS.commonName} characters; no control characters or bidi overrides)`,
    ),
    organization: list(text(LIMITS.organization), LIMITS.subjectValues, 'organizations')
      .optional()
      .meta({
        description: `subject O values, each at most ${LIMITS.organization} characters (RFC 5280), at most ${LIMITS.subjectValues}`,
      }),
    organizationalUnit: list(text(LIMITS.organizationalUnit), LIMITS.subjectValues, 'organizational units')
      .optional()
      .meta({
        description: `subject OU values, each at most ${LIMITS.organizationalUnit} characters (RFC 5280), at most ${LIMITS.subjectValues}`,
      }),
  };

  const lifetimes = {
    key: keyType.optional(),
    validity: validity.optional(),
    renewBefore: duration.optional(),
  };

  const dnsName = z
    .string()
    .superRefine(check(dnsNameProblem))
    .meta({
      description:
        `DNS name (RFC 1035/1123): labels of letters, digits and inner hyphens, each at most ${LIMITS.dnsLabel}, at most ${LIMITS.dnsName} in all; ` +
        'a wildcard only as the whole left-most label over at least two labels (*.example.com); internationalised names as xn--; no IP addresses',
    });
  const ipAddress = z
    .string()
    .superRefine(check(ipAddressProblem))
    .meta({ description: 'IPv4 (dotted quad, no leading zeros) or IPv6 (any RFC 4291 form, ::ffff:1.2.3.4 included; no zone id)' });
  const uri = z
    .string()
    .superRefine(check(uriProblem))
    .meta({ description: `URI with scheme ${URI_SCHEMES.join(', ')}; no user info, at most ${LIMITS.uri} characters` });
  const sans = `at most ${LIMITS.sansPerCertificate} subject alternative names per certificate in all`;

  const httpsUrl = z
    .string()
    .max(LIMITS.uri)
    .regex(/^https:\/\/[^\s]+$/, 'an https:// URL')
    .meta({ description: 'https:// URL' });

  /** AWS Private CA: leaves are signed by IssueCertificate with a CSR rekey makes; the key stays in rekey's store. */
  const awsPrivateCa = z.strictObject({
    arn: z
      .string()
      .max(LIMITS.text)
      .regex(
        /^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[A-Za-z0-9-]+$/,
        'an AWS Private CA ARN (arn:aws:acm-pca:REGION:ACCOUNT:certificate-authority/ID)',
      ),
    signingAlgorithm: z.enum(['SHA256WITHECDSA', 'SHA384WITHECDSA', 'SHA512WITHECDSA', 'SHA256WITHRSA', 'SHA384WITHRSA', 'SHA512WITHRSA']),
    templateArn: z
      .string()
      .max(LIMITS.text)
      .regex(/^arn:aws[a-z-]*:acm-pca:::template\/[A-Za-z0-9/_.-]+$/, 'a certificate template ARN (arn:aws:acm-pca:::template/...)')
      .optional(),
  });

  /** An ACME CA (RFC 8555): account, order, dns-01 through Route 53, finalize with rekey's CSR, download the chain. */
  const acme = z.strictObject({
    directory: httpsUrl.meta({ description: 'the ACME directory URL' }),
    email: z
      .string()
      .max(254)
      .regex(/^[^\s@]+@[^\s@]+$/, 'an e-mail address'),
    eab: z
      .strictObject({
        kid: text(LIMITS.text),
        hmacKeyFrom: z
          .string()
          .max(LIMITS.path)
          .regex(/^(env|file):.+$/, 'expected env:VAR or file:PATH'),
      })
      .optional()
      .meta({
        description:
          'external account binding; the HMAC key (base64url) is read from the environment or a file, never written in the inventory',
      }),
    solver: z.strictObject({
      dns01: z.strictObject({
        route53: z.strictObject({
          hostedZoneId: z
            .string()
            .max(64)
            .regex(/^[A-Z0-9]+$|^\/hostedzone\/[A-Z0-9]+$/, 'a Route 53 hosted zone id'),
        }),
        propagationDelay: duration
          .optional()
          .meta({ description: 'wait after the TXT record is in sync before the CA validates (default 0s)' }),
      }),
    }),
    roots: httpsUrl.optional().meta({
      description: "URL of the CA's root certificate(s) (PEM) for the trust bundle; without it the top of each issued chain is trusted",
    }),
  });

  const external = z
    .union([z.strictObject({ awsPrivateCa }), z.strictObject({ acme })])
    .meta({ description: 'an authority run elsewhere: leaves are signed there, keys stay in rekey' });

  const authority = z.strictObject({
    name: itemName,
    ...subject,
    ...lifetimes,
    parent: text(LIMITS.text).optional().meta({ description: 'makes this an intermediate CA under the named authority' }),
    pathLen: z.number().int().min(0).max(10).optional(),
    secret: secretTarget.optional().meta({ description: 'publish the CA certificate (no key) as a Secret' }),
    files: z
      .strictObject({
        dir: directory,
        cert: fileName.default('ca.crt'),
        mode: fileMode.default('0644'),
        reload: reload.optional(),
        reloadTimeout: reloadTimeout.optional().meta({ description: reloadTimeoutDescription }),
      })
      .optional(),
    probe: list(probe, MAX_PROBES, 'probes').optional().meta({ description: 'endpoints that must serve a chain ending at this authority' }),
    consumers: consumers
      .optional()
      .meta({ description: 'workloads that trust this CA: restarted when its bundle changes during a rotation' }),
    external: external.optional(),
  });

  const certificate = z.strictObject({
    name: itemName,
    issuer: text(LIMITS.text),
    usage: z.enum(USAGES),
    ...subject,
    ...lifetimes,
    dnsNames: list(dnsName, LIMITS.sansPerCertificate, 'DNS names').optional().meta({ description: sans }),
    ipAddresses: list(ipAddress, LIMITS.sansPerCertificate, 'IP addresses').optional().meta({ description: sans }),
    uris: list(uri, LIMITS.sansPerCertificate, 'URIs').optional().meta({ description: sans }),
    perReplica: z
      .strictObject({
        // 52: the StatefulSet controller adds a revision hash to the name in a 63-character label.
        statefulSet: z.string().max(52, 'at most 52 characters').regex(DNS_LABEL, 'a DNS-1123 label'),
        replicas: z.number().int().min(1).max(1000),
      })
      .optional(),
    secret: secretTarget.optional(),
    files: fileTarget.optional(),
    adopt: z.boolean().optional().meta({ description: 'take over an existing Secret rekey did not write; keep it while it is valid' }),
    consumers: consumers.optional(),
    restart: restart.optional(),
    probe: list(probe, MAX_PROBES, 'probes')
      .optional()
      .meta({ description: 'endpoints that must serve this certificate after a rotation' }),
  });

  const database = z.strictObject({
    engine: z.literal('postgres'),
    urlFrom: z
      .string()
      .max(LIMITS.path)
      .regex(/^(env|file|secretsmanager):.+$/, 'expected env:VAR, file:PATH or secretsmanager:NAME')
      .superRefine(check((v) => unsafeCharacter(v) && `must not contain a ${unsafeCharacter(v)}`))
      .meta({ description: 'where the admin connection URL is (never the URL itself): env:VAR, file:PATH or secretsmanager:NAME' }),
    role: text(63),
    strategy: z.enum(['alternating', 'single']).default('single'),
    // Where consumers connect (written into the Secret as host, port, dbname, uri, jdbc-uri); may differ from urlFrom's host.
    host: z
      .string()
      .max(253)
      .regex(/^[A-Za-z0-9.:_-]+$/, 'a host name or IP address')
      .optional()
      .meta({ description: 'host consumers connect to (Secret key host, and uri/jdbc-uri)' }),
    port: z.number().int().min(1).max(65535).optional(),
    dbname: text(63).optional(),
  });

  const pause = z.strictObject({
    object: z.strictObject({ apiVersion: text(LIMITS.text), kind: text(LIMITS.text), namespace: namespace.optional(), name: text(253) }),
    patch: z.record(z.string(), z.unknown()),
    resume: z.record(z.string(), z.unknown()),
  });

  const credential = z
    .strictObject({
      name: itemName,
      type: z.enum(CREDENTIAL_TYPES),
      length: z.number().int().min(16).max(256).optional().meta({ description: 'password length (default 32)' }),
      algorithm: z.enum(['ES256', 'ES384', 'EdDSA', 'RS256']).optional().meta({ description: 'JWT signing algorithm (default ES256)' }),
      tokenLifetime: duration.optional().meta({
        description:
          'longest lifetime of a token signed with the key: the old public key stays published this long after a new key activates (default 1h)',
      }),
      verifiers: list(consumer, LIMITS.consumers, 'verifiers')
        .optional()
        .meta({
          description: `jwt-signing-key: workloads that verify tokens, restarted after the new public key is published and before it signs (at most ${LIMITS.consumers})`,
        }),
      jwksSecret: secretName.optional().meta({
        description:
          'jwt-signing-key: a second Secret (same namespace and clusters as secret) holding only jwks.json, the public key set: mount it in verifiers instead of the Secret with the private key',
      }),
      propagation: duration
        .optional()
        .meta({ description: 'jwt-signing-key: how long verifiers need to see a published key set; waited before the new key signs' }),
      signingKey: text(LIMITS.text).optional().meta({ description: 'jwt-token: the jwt-signing-key credential that signs the token' }),
      claims: z
        .strictObject({
          sub: text(LIMITS.tokenClaim).optional(),
          aud: text(LIMITS.tokenClaim).optional(),
          scope: text(LIMITS.tokenClaim).optional().meta({ description: 'space-separated scopes' }),
          iss: text(LIMITS.tokenClaim).optional().meta({ description: 'default rekey/<inventory>' }),
        })
        .optional()
        .meta({ description: 'jwt-token: claims of the token (iat, nbf, exp and jti are added)' }),
      lifetime: duration.optional().meta({
        description:
          'jwt-token: lifetime of each token (default: the tokenLifetime of its signing key); minted again when a third of it is left',
      }),
      rotateEvery: duration.optional(),
      secret: secretTarget.optional(),
      files: fileTarget.optional(),
      database: database.optional(),
      pause: pause.optional(),
      adopt: z.boolean().optional(),
      consumers: consumers.optional(),
      restart: restart.optional(),
    })
    .superRefine((c, ctx) => {
      // Fields of one credential type on another are mistakes, not options to ignore.
      const tokenOnly = c.type !== 'jwt-token' ? (['signingKey', 'claims', 'lifetime'] as const).filter((f) => c[f] !== undefined) : [];
      for (const f of tokenOnly)
        ctx.addIssue({ code: 'custom', path: [f], message: 'only a jwt-token has signingKey, claims and lifetime', input: c[f] });
    });

  /** A CSR enrolment profile: who may ask (token scope) for what (names, usage), signed by which authority. */
  const enrolProfile = z.strictObject({
    name: itemName,
    issuer: text(LIMITS.text).meta({ description: 'the authority that signs enrolled certificates' }),
    usage: z.enum(USAGES),
    allowedNames: list(text(LIMITS.dnsName), 100, 'allowed names')
      .min(1)
      .meta({ description: 'DNS names a CSR may ask for (CN and SANs); "*.x.y" allows any one label in front of x.y' }),
    validity: validity.optional().meta({ description: 'validity of enrolled certificates (default 720h)' }),
    tokenScope: text(LIMITS.text).meta({
      description: 'scope a bearer token must hold to enrol with this profile, e.g. enrol:backup-clients',
    }),
  });

  /** Where the API (`rekey serve`, the api function) is reachable by the clients of enrolled certificates. */
  const apiSettings = z.strictObject({
    publicUrl: z
      .string()
      .max(LIMITS.uri)
      .regex(/^https?:\/\/[^\s?#]+[^\s?#/]$/, 'an http:// or https:// URL without query, fragment or trailing slash')
      .meta({
        description:
          "the API's base URL as clients reach it, e.g. https://rekey.example:8628; certificates enrolled under a profile of rekey's own CA then carry a CRL Distribution Point <publicUrl>/v1/enrol/<profile>/crl",
      }),
  });

  const cluster = z.strictObject({
    name: clusterName,
    context: text(LIMITS.text).optional().meta({ description: 'kubeconfig context; defaults to the name' }),
  });

  const inventorySchema = z.strictObject({
    apiVersion: z.literal('rekey/v1'),
    kind: z.literal('Inventory'),
    metadata: z.strictObject({ name: clusterName }),
    defaults: z.strictObject({ ...lifetimes, restart: restart.optional() }).optional(),
    clusters: list(cluster, LIMITS.clusters, 'clusters').min(1).optional(),
    authorities: list(authority, LIMITS.items, 'authorities').optional(),
    certificates: list(certificate, LIMITS.items, 'certificates').optional(),
    credentials: list(credential, LIMITS.items, 'credentials').optional(),
    enrol: list(enrolProfile, 1000, 'enrolment profiles').optional().meta({ description: 'CSR enrolment profiles for POST /v1/enrol' }),
    api: apiSettings.optional().meta({ description: 'where the API is reachable (enrolled certificates name its CRL URL)' }),
    alerts: z
      .array(alertRuleSchema())
      .max(1000)
      .optional()
      .meta({ description: 'alert-driven remediation: Alertmanager or CloudWatch alarms mapped to rotate, resync or restart' }),
  });
  return {
    keyType,
    secretTarget,
    fileTarget,
    consumer,
    restart,
    probe,
    external,
    authority,
    certificate,
    credential,
    enrolProfile,
    apiSettings,
    cluster,
    inventorySchema,
  };
}

let built: ReturnType<typeof buildSchemas> | undefined;

/** The inventory document's schema, built on the first call. */
export function inventorySchema() {
  return (built ??= buildSchemas()).inventorySchema;
}

type Schemas = ReturnType<typeof buildSchemas>;

export type InventoryDocument = z.infer<Schemas['inventorySchema']>;
export type AuthorityDocument = z.infer<Schemas['authority']>;
export type CertificateDocument = z.infer<Schemas['certificate']>;
export type CredentialDocument = z.infer<Schemas['credential']>;
export type ConsumerDocument = z.infer<Schemas['consumer']>;
export type RestartDocument = z.infer<Schemas['restart']>;
export type ProbeDocument = z.infer<Schemas['probe']>;
export type ExternalDocument = z.infer<Schemas['external']>;
export type EnrolProfileDocument = z.infer<Schemas['enrolProfile']>;
export type KeyType = (typeof KEY_TYPES)[number];
export type Usage = (typeof USAGES)[number];
export type RestartPolicyName = (typeof RESTART_POLICIES)[number];
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
