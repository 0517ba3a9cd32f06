/**
 * Every bound the inventory enforces, in one place: the schema's descriptions, the validators and the README's
 * "Limits" paragraph all read from here. The bounds keep one hostile or mistaken inventory from producing
 * certificates peers refuse, store entries AWS refuses, or a process that runs out of memory.
 */
export const LIMITS = {
  /** Largest inventory file accepted (bytes). A 10,000-certificate inventory is about 2 MiB. */
  inventoryBytes: 16 * 1024 * 1024,
  /**
   * YAML anchors and aliases may repeat content, but the document they expand to may hold at most this many
   * values (map entries and list elements) more than the text itself writes out: a billion-laughs document
   * expands exponentially and is stopped here, before anything walks the expanded tree.
   */
  aliasExpansion: 10_000,
  /** Nesting depth of the parsed document (the inventory itself needs about 8). */
  depth: 32,

  /** RFC 5280 ub-common-name, ub-organization-name, ub-organizational-unit-name (characters). */
  commonName: 64,
  organization: 64,
  organizationalUnit: 64,
  /** Entries in `organization` and in `organizationalUnit`. */
  subjectValues: 8,

  /** RFC 1035: a DNS label is at most 63 octets, a name at most 253 (without the trailing dot). */
  dnsLabel: 63,
  dnsName: 253,
  /** A URI SAN; RFC 5280 sets no bound, browsers and proxies commonly stop near 2,000. */
  uri: 1024,
  /** dnsNames + ipAddresses + uris of one certificate (plus the names `perReplica` adds). */
  sansPerCertificate: 100,

  /** One store version (Secrets Manager's SecretString quota is 65,536 bytes). */
  storeEntryBytes: 65_536,
  /** A Kubernetes Secret (etcd's and the API server's limit is 1 MiB). */
  kubernetesSecretBytes: 1_048_576,

  /** Shortest validity of a certificate or authority: shorter ones expire before a rotation can finish. */
  minValidityMs: 3_600_000,

  /** Entries in a `consumers` or `verifiers` list. */
  consumers: 256,
  /** Clusters of the inventory, and entries of a `secret.clusters` list. */
  clusters: 64,
  /** Items of each kind (authorities, certificates, credentials). */
  items: 50_000,
  /** A file name (`cert`, `key`, `ca` of a `files` target), bytes as most file systems count them. */
  fileName: 255,
  /** The `dir` of a `files` target. */
  path: 4096,
  /** A `reload` command. */
  command: 4096,
  /** One claim of a jwt-token (sub, aud, scope, iss). */
  tokenClaim: 1024,
  /** Shortest lifetime of a jwt-token (and tokenLifetime of a signing key): shorter ones expire before a re-mint. */
  minTokenLifetimeMs: 1_000,
  /** Other free text (label selectors, contexts, object names). */
  text: 1024,
} as const;

/** URI schemes a certificate may name: workload identities (SPIFFE), web origins and URNs. */
export const URI_SCHEMES = ['spiffe', 'https', 'http', 'urn'] as const;
export type UriScheme = (typeof URI_SCHEMES)[number];
