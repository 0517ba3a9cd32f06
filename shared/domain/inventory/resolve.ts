import { checkAlertRules, resolveAlertRules } from '../alerts/rule.js';
import { parseDuration } from '../duration.js';
import type { InventoryIssue } from '../errors.js';
import {
  DEFAULT_CLUSTER,
  ItemKind,
  type Authority,
  type Certificate,
  type ClusterRef,
  type Consumer,
  type Credential,
  FileLayout,
  type FilePlacement,
  type Inventory,
  type Item,
  type RestartPolicy,
  type SecretPlacement,
} from './model.js';
import { checkProbes, probesOf } from './probes.js';
import type { ConsumerDocument, InventoryDocument, RestartDocument, WorkloadKind } from './schema.js';
import { LIMITS } from './limits.js';
import { canonicalIp } from './names.js';
import { estimateCertificateSize } from './secret-size.js';
import { quote } from './text.js';
import { defined } from '../defined.js';

const HOUR = 3_600_000;
export const DEFAULTS = {
  key: 'ECDSA-P256',
  validityMs: 2160 * HOUR,
  renewBeforeMs: 720 * HOUR,
  authorityValidityMs: 87600 * HOUR,
  restart: { policy: 'rolling' } as RestartPolicy,
  passwordLength: 32,
  tokenLifetimeMs: 1 * HOUR,
  credentialRotateEveryMs: 2160 * HOUR,
} as const;

const ms = (d: string | undefined): number | undefined => (d === undefined ? undefined : parseDuration(d));

function restartOf(doc: RestartDocument | undefined, fallback: RestartPolicy): RestartPolicy {
  if (doc === undefined) return fallback;
  if (typeof doc === 'string') return { policy: doc };
  const withinMs = ms(doc.within);
  return withinMs === undefined ? { policy: doc.policy } : { policy: doc.policy, withinMs };
}

function workloadOf(ref: string): Consumer & { kind: 'workload' } {
  const [kind, name] = ref.split('/') as [WorkloadKind, string];
  return { kind: 'workload', workloadKind: kind, name };
}

function consumerOf(doc: ConsumerDocument): Consumer {
  if (typeof doc === 'string') return workloadOf(doc);
  const clusters = doc.clusters && { clusters: doc.clusters };
  if ('ref' in doc) return { ...workloadOf(doc.ref), ...clusters };
  return { kind: 'selector', selector: doc.selector, ...(doc.namespace && { namespace: doc.namespace }), ...clusters };
}

function secretOf(
  doc: { name: string; namespace: string; clusters?: string[] | undefined } | undefined,
  all: readonly ClusterRef[],
): SecretPlacement | undefined {
  if (!doc) return undefined;
  return { name: doc.name, namespace: doc.namespace, clusters: doc.clusters ?? all.map((c) => c.name) };
}

function filesOf(
  doc:
    | {
        dir: string;
        cert: string;
        key?: string | undefined;
        ca?: string | undefined;
        mode: string;
        reload?: string | undefined;
        reloadTimeout?: string | undefined;
        layout?: FileLayout | undefined;
      }
    | undefined,
): FilePlacement | undefined {
  if (!doc) return undefined;
  return {
    dir: doc.dir,
    cert: doc.cert,
    ...(doc.key !== undefined && { key: doc.key }),
    ...(doc.ca !== undefined && { ca: doc.ca }),
    mode: parseInt(doc.mode, 8),
    ...(doc.reload !== undefined && { reload: doc.reload }),
    ...(doc.reloadTimeout !== undefined && { reloadTimeoutMs: defined(ms(doc.reloadTimeout)) }),
    ...(doc.layout === FileLayout.Versioned && { layout: FileLayout.Versioned }),
  };
}

/** Builds the resolved model from a schema-valid document. Cross-field checks happen in `checkInventory`. */
export function resolveInventory(doc: InventoryDocument): Inventory {
  const d = doc.defaults ?? {};
  const clusters: ClusterRef[] = (doc.clusters ?? [{ name: DEFAULT_CLUSTER }]).map((c) => ({ name: c.name, context: c.context ?? c.name }));
  const defaultRestart = restartOf(d.restart, DEFAULTS.restart);
  const leafValidity = ms(d.validity) ?? DEFAULTS.validityMs;
  const leafRenew = ms(d.renewBefore) ?? Math.min(DEFAULTS.renewBeforeMs, Math.floor(leafValidity / 3));
  const defaultKey = d.key ?? DEFAULTS.key;

  const authorities: Authority[] = (doc.authorities ?? []).map((a, i) => {
    const validityMs = ms(a.validity) ?? Math.max(DEFAULTS.authorityValidityMs, leafValidity);
    return {
      kind: ItemKind.Authority,
      name: a.name,
      path: `authorities[${i}]`,
      subject: {
        commonName: a.commonName,
        ...(a.organization && { organization: a.organization }),
        ...(a.organizationalUnit && { organizationalUnit: a.organizationalUnit }),
      },
      keyType: a.key ?? defaultKey,
      validityMs,
      // An external CA's certificate is refreshed when its chain changes or it expired, never re-issued by rekey.
      renewBeforeMs: a.external ? 0 : (ms(a.renewBefore) ?? Math.floor(validityMs / 3)),
      ...(a.external && { external: a.external }),
      ...(a.parent !== undefined && { parent: a.parent }),
      ...(a.pathLen !== undefined && { pathLen: a.pathLen }),
      ...(a.secret && { secret: defined(secretOf(a.secret, clusters)) }),
      ...(a.files && { files: defined(filesOf(a.files)) }),
      ...(a.probe && { probes: probesOf(a.probe) }),
      adopt: false,
      consumers: (a.consumers ?? []).map(consumerOf),
      restart: defaultRestart,
    };
  });

  const certificates: Certificate[] = (doc.certificates ?? []).map((c, i) => {
    const validityMs = ms(c.validity) ?? leafValidity;
    return {
      kind: ItemKind.Certificate,
      name: c.name,
      path: `certificates[${i}]`,
      issuer: c.issuer,
      usage: c.usage,
      subject: {
        commonName: c.commonName,
        ...(c.organization && { organization: c.organization }),
        ...(c.organizationalUnit && { organizationalUnit: c.organizationalUnit }),
      },
      keyType: c.key ?? defaultKey,
      validityMs,
      renewBeforeMs: ms(c.renewBefore) ?? Math.min(leafRenew, Math.floor(validityMs / 3)),
      dnsNames: c.dnsNames ?? [],
      // An embedded IPv4 tail (::ffff:1.2.3.4) is written in hex, the one IPv6 form the certificate builder reads.
      ipAddresses: (c.ipAddresses ?? []).map((ip) => (ip.includes(':') && ip.includes('.') ? (canonicalIp(ip) ?? ip) : ip)),
      uris: c.uris ?? [],
      ...(c.perReplica && { perReplica: c.perReplica }),
      ...(c.secret && { secret: defined(secretOf(c.secret, clusters)) }),
      ...(c.files && { files: defined(filesOf(c.files)) }),
      adopt: c.adopt ?? false,
      consumers: (c.consumers ?? []).map(consumerOf),
      restart: restartOf(c.restart, defaultRestart),
      ...(c.probe && { probes: probesOf(c.probe) }),
    };
  });

  const credentials: Credential[] = (doc.credentials ?? []).map((c, i) => ({
    kind: ItemKind.Credential,
    name: c.name,
    path: `credentials[${i}]`,
    type: c.type,
    length: c.length ?? DEFAULTS.passwordLength,
    algorithm: c.algorithm ?? 'ES256',
    tokenLifetimeMs: ms(c.tokenLifetime) ?? DEFAULTS.tokenLifetimeMs,
    rotateEveryMs: ms(c.rotateEvery) ?? DEFAULTS.credentialRotateEveryMs,
    ...(c.database && { database: c.database }),
    ...(c.pause && { pause: c.pause }),
    verifiers: (c.verifiers ?? []).map(consumerOf),
    ...(c.propagation !== undefined && { propagationMs: defined(ms(c.propagation)) }),
    ...(c.jwksSecret !== undefined && { jwksSecret: c.jwksSecret }),
    ...(c.type === 'jwt-token' && {
      token: {
        signingKey: c.signingKey ?? '',
        claims: { ...c.claims },
        // Default: as long as the signing key lets tokens live.
        lifetimeMs: ms(c.lifetime) ?? ms(doc.credentials?.find((k) => k.name === c.signingKey)?.tokenLifetime) ?? DEFAULTS.tokenLifetimeMs,
      },
    }),
    ...(c.secret && { secret: defined(secretOf(c.secret, clusters)) }),
    ...(c.files && { files: defined(filesOf(c.files)) }),
    adopt: c.adopt ?? false,
    consumers: (c.consumers ?? []).map(consumerOf),
    restart: restartOf(c.restart, defaultRestart),
  }));

  const items = new Map<string, Item>();
  for (const item of [...authorities, ...certificates, ...credentials]) if (!items.has(item.name)) items.set(item.name, item);
  const alerts = resolveAlertRules(doc.alerts);
  const enrol = (doc.enrol ?? []).map((p, i) => ({
    name: p.name,
    path: `enrol[${i}]`,
    issuer: p.issuer,
    usage: p.usage,
    allowedNames: p.allowedNames,
    validityMs: ms(p.validity) ?? 720 * HOUR,
    tokenScope: p.tokenScope,
  }));
  return {
    name: doc.metadata.name,
    clusters,
    authorities,
    certificates,
    credentials,
    items,
    ...(alerts.length && { alerts }),
    ...(enrol.length && { enrol }),
    ...(doc.api && { api: { publicUrl: doc.api.publicUrl } }),
  };
}

/** Cross-field rules the schema cannot express. Returns every violation found. */
export function checkInventory(inv: Inventory): InventoryIssue[] {
  const issues: InventoryIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  const clusterNames = new Set<string>();
  inv.clusters.forEach((c, i) => {
    if (clusterNames.has(c.name)) add(`clusters[${i}].name`, `duplicate cluster "${c.name}"`);
    clusterNames.add(c.name);
  });

  const seen = new Map<string, string>();
  const all: Item[] = [...inv.authorities, ...inv.certificates, ...inv.credentials];
  for (const item of all) {
    const first = seen.get(item.name);
    if (first) add(`${item.path}.name`, `duplicate name "${item.name}" (first at ${first})`);
    else seen.set(item.name, item.path);
  }

  const authorities = new Map(inv.authorities.map((a) => [a.name, a]));
  for (const a of inv.authorities) {
    if (a.external) {
      if (a.parent !== undefined)
        add(`${a.path}.parent`, 'an external authority has no parent in the inventory (its chain comes from the CA)');
      if (a.pathLen !== undefined) add(`${a.path}.pathLen`, 'has no meaning for an external authority');
      if (a.files) add(`${a.path}.files`, 'not supported for an external authority yet');
    }
    if (a.parent !== undefined && authorities.get(a.parent)?.external)
      add(`${a.path}.parent`, `authority "${a.parent}" is external: rekey cannot sign an intermediate with it`);
    if (a.parent !== undefined && !authorities.has(a.parent)) add(`${a.path}.parent`, `unknown authority ${quote(a.parent)}`);
    if (a.renewBeforeMs >= a.validityMs) add(`${a.path}.renewBefore`, 'must be shorter than validity');
    const parent = a.parent !== undefined ? authorities.get(a.parent) : undefined;
    if (parent && a.validityMs > parent.validityMs) add(`${a.path}.validity`, `outlives its parent "${parent.name}"`);
  }
  for (const a of inv.authorities) {
    // RFC 5280 pathLenConstraint: an authority with pathLen n allows n levels of intermediate CAs below it. The
    // walk is bounded by the number of authorities (a cycle is reported below).
    let cur = a.parent !== undefined ? authorities.get(a.parent) : undefined;
    for (let levels = 1; cur && levels <= inv.authorities.length; levels++) {
      if (cur.pathLen !== undefined && levels > cur.pathLen) {
        add(
          `${a.path}.parent`,
          `authority "${cur.name}" has pathLen ${cur.pathLen}: it cannot have ${levels === 1 ? 'intermediates' : `${levels} levels of intermediates (${a.name} would be one too many)`}`,
        );
        break;
      }
      cur = cur.parent !== undefined ? authorities.get(cur.parent) : undefined;
    }
  }
  for (const a of inv.authorities) {
    // Walk up the parents; coming back to a visited authority is a cycle.
    const visited = new Set<string>([a.name]);
    let cur = a.parent !== undefined ? authorities.get(a.parent) : undefined;
    while (cur) {
      if (visited.has(cur.name)) {
        add(`${a.path}.parent`, `cycle in authority parents: ${[...visited, cur.name].join(' -> ')}`);
        break;
      }
      visited.add(cur.name);
      cur = cur.parent !== undefined ? authorities.get(cur.parent) : undefined;
    }
  }

  for (const c of inv.certificates) {
    const issuer = authorities.get(c.issuer);
    if (!issuer) add(`${c.path}.issuer`, `unknown authority ${quote(c.issuer)}`);
    else if (c.validityMs > issuer.validityMs) add(`${c.path}.validity`, `outlives its issuer "${issuer.name}"`);
    if (c.renewBeforeMs >= c.validityMs) add(`${c.path}.renewBefore`, 'must be shorter than validity');
    if (!c.secret && !c.files) add(c.path, 'needs a secret or files (where to put the certificate)');
    if (c.perReplica && !c.secret) add(`${c.path}.perReplica`, 'needs a secret (one Secret per pod)');
    if (c.perReplica && c.secret) {
      // The last replica's Secret, <name>-<replicas-1>, must still be a Kubernetes name.
      const last = `${c.secret.name}-${c.perReplica.replicas - 1}`;
      if (last.length > 253)
        add(`${c.path}.secret.name`, `with perReplica the Secret ${quote(last)} would have ${last.length} characters; at most 253`);
    }
    // DNS names, IP addresses and URIs are checked one by one by the schema; here what they add up to.
    const sanCount = c.dnsNames.length + c.ipAddresses.length + c.uris.length + (c.perReplica ? 2 : 0);
    if (sanCount > LIMITS.sansPerCertificate) {
      add(
        c.path,
        `${sanCount} subject alternative names (dnsNames + ipAddresses + uris${c.perReplica ? ' + 2 per replica' : ''}); at most ${LIMITS.sansPerCertificate}`,
      );
    } else if (issuer) {
      const size = estimateCertificateSize(inv, c, authorities);
      if (size.storeEntry > LIMITS.storeEntryBytes) {
        add(
          c.path,
          `a version would take about ${size.storeEntry} bytes; Secrets Manager stores at most ${LIMITS.storeEntryBytes}: use fewer or shorter names or a smaller key`,
        );
      } else if (size.secret > LIMITS.kubernetesSecretBytes) {
        add(c.path, `its Secret would take about ${size.secret} bytes; Kubernetes stores at most ${LIMITS.kubernetesSecretBytes}`);
      }
    }
  }
  for (const c of inv.credentials) {
    if (!c.secret && !c.files) add(c.path, 'needs a secret or files (where to put the credential)');
    if (c.database && c.type !== 'password') add(`${c.path}.database`, 'only a password can be set in a database');
    // PostgreSQL cuts names at 63 bytes: `<role>_alt` must stay distinct.
    if (c.database?.strategy === 'alternating' && Buffer.byteLength(c.database.role) > 59)
      add(`${c.path}.database.role`, 'at most 59 bytes with strategy alternating (the second login is <role>_alt)');
    checkJwtCredential(inv, c, add);
  }

  const targets = new Map<string, string>();
  for (const item of all) {
    item.secret?.clusters.forEach((name, i) => {
      if (!clusterNames.has(name)) add(`${item.path}.secret.clusters[${i}]`, `unknown cluster ${quote(name)}`);
    });
    item.consumers.forEach((consumer, i) => {
      consumer.clusters?.forEach((name, j) => {
        const at = `${item.path}.consumers[${i}].clusters[${j}]`;
        if (!clusterNames.has(name)) add(at, `unknown cluster ${quote(name)}`);
        else if (item.secret && !item.secret.clusters.includes(name)) add(at, `the item's Secret is not written to cluster ${quote(name)}`);
      });
    });
    if (!item.secret) continue;
    const names =
      item.kind === 'certificate' && item.perReplica
        ? Array.from({ length: item.perReplica.replicas }, (_, i) => `${defined(item.secret).name}-${i}`)
        : [item.secret.name, ...(item.kind === 'credential' && item.jwksSecret !== undefined ? [item.jwksSecret] : [])];
    for (const cluster of item.secret.clusters) {
      for (const name of names) {
        const key = `${cluster}/${item.secret.namespace}/${name}`;
        const other = targets.get(key);
        if (other)
          add(`${item.path}.secret`, `Secret ${item.secret.namespace}/${name} in cluster "${cluster}" is also written by ${other}`);
        else targets.set(key, item.path);
      }
    }
    if (item.restart.withinMs !== undefined && item.restart.policy === 'none')
      add(`${item.path}.restart.within`, 'has no meaning with policy none');
  }
  const profiles = new Set<string>();
  for (const p of inv.enrol ?? []) {
    if (profiles.has(p.name)) add(`${p.path}.name`, `duplicate enrolment profile "${p.name}"`);
    profiles.add(p.name);
    const issuer = authorities.get(p.issuer);
    if (!issuer) add(`${p.path}.issuer`, `unknown authority ${quote(p.issuer)}`);
    else if (p.validityMs > issuer.validityMs) add(`${p.path}.validity`, `outlives its issuer "${issuer.name}"`);
  }
  issues.push(...checkProbes(inv));
  issues.push(...checkAlertRules(inv.alerts ?? [], new Set(inv.items.keys())));
  return issues;
}

/** Whether `text` is an IP address a certificate can name (see `canonicalIp`). */
export const isIp = (text: string): boolean => canonicalIp(text) !== undefined;

/** Signing keys and the tokens minted from them: each field only where it means something, tokens outlived by the overlap. */
function checkJwtCredential(inv: Inventory, c: Credential, add: (path: string, message: string) => void): void {
  if (c.type !== 'jwt-signing-key') {
    if (c.verifiers.length) add(`${c.path}.verifiers`, 'only a jwt-signing-key has verifiers');
    if (c.propagationMs !== undefined) add(`${c.path}.propagation`, 'only a jwt-signing-key has a propagation time');
    if (c.jwksSecret !== undefined) add(`${c.path}.jwksSecret`, 'only a jwt-signing-key publishes a key set');
  } else if (c.jwksSecret !== undefined && !c.secret)
    add(`${c.path}.jwksSecret`, 'needs secret: the key set Secret is written beside it (same namespace and clusters)');
  else if (c.tokenLifetimeMs < LIMITS.minTokenLifetimeMs)
    add(`${c.path}.tokenLifetime`, `must be at least ${LIMITS.minTokenLifetimeMs / 1000}s`);
  const token = c.token;
  if (c.type !== 'jwt-token' || !token) return;
  if (!token.signingKey) {
    add(`${c.path}.signingKey`, 'a jwt-token needs signingKey (the jwt-signing-key credential that signs it)');
    return;
  }
  const key = inv.items.get(token.signingKey);
  if (key?.kind !== 'credential' || key.type !== 'jwt-signing-key')
    add(`${c.path}.signingKey`, `unknown jwt-signing-key credential ${quote(token.signingKey)}`);
  else if (token.lifetimeMs > key.tokenLifetimeMs) {
    add(`${c.path}.lifetime`, `longer than the tokenLifetime of "${key.name}": its tokens would outlive the old key's overlap`);
  }
  if (token.lifetimeMs < LIMITS.minTokenLifetimeMs) add(`${c.path}.lifetime`, `must be at least ${LIMITS.minTokenLifetimeMs / 1000}s`);
}
