import { X509Certificate } from 'node:crypto';
import { derToPem, pemBlocks } from '../../domain/pki/pem.js';
import { keyTypeOf, privateKeyFromPem, privateKeyToPem } from '../../domain/pki/keys.js';
import type { KeyType } from '../../domain/inventory/schema.js';
import type { ObservedSecret, SecretUse } from '../../ports/cluster.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../domain/sync/desired.js';
import type { CmCertificate, CmIssuer } from './source.js';
import { defined } from '../../domain/defined.js';
import { ekuOf } from '../../domain/pki/eku.js';

/** What import read from one cluster. */
export interface ClusterSnapshot {
  readonly cluster: string;
  readonly certManagerInstalled: boolean;
  readonly certificates: readonly CmCertificate[];
  readonly issuers: readonly CmIssuer[];
  /** TLS Secrets, plus the CA Secrets the CA issuers name (by `namespace/name`). */
  readonly secrets: ReadonlyMap<string, ObservedSecret>;
  readonly uses: readonly SecretUse[];
}

export interface NotImportable {
  readonly cluster: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly reason: string;
}

/** Key material found for an authority: import stores it as the authority's first version (rekey signs with it). */
export interface AuthorityMaterial {
  readonly name: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly chainPem: string;
  readonly caPem: string;
  readonly keyType: KeyType;
  readonly parent?: string;
}

export interface ImportPlan {
  /** The inventory document (plain data, ready to dump as YAML); no key material. */
  readonly document: Record<string, unknown>;
  readonly authorities: readonly AuthorityMaterial[];
  readonly notImportable: readonly NotImportable[];
  /** Things to know that are not errors (a second cluster holding other material, a certificate due soon). */
  readonly notes: readonly string[];
}

const HOUR_MS = 3_600_000;
const CERT_MANAGER_ANNOTATION = 'cert-manager.io/certificate-name';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface Parsed {
  readonly leaf: X509Certificate;
  readonly rest: X509Certificate[];
  readonly keyPem: string;
  readonly keyType: KeyType;
}

/** The certificate and key of a TLS Secret, or why they cannot be used. */
function parseTls(secret: ObservedSecret): Parsed | string {
  const crt = secret.data['tls.crt'];
  const key = secret.data['tls.key'];
  if (!crt || !key) return 'no tls.crt and tls.key';
  try {
    const [first, ...more] = pemBlocks(crt).map((d) => new X509Certificate(d));
    if (!first) return 'tls.crt holds no certificate';
    const k = privateKeyFromPem(key);
    if (!first.checkPrivateKey(k)) return 'tls.key does not match tls.crt';
    const keyType = keyTypeOf(k);
    if (!keyType) return `key type ${k.asymmetricKeyType} is not one rekey issues`;
    return { leaf: first, rest: more, keyPem: privateKeyToPem(k), keyType };
  } catch {
    return 'tls.crt or tls.key does not parse';
  }
}

const hoursOf = (x: X509Certificate): number => Math.max(1, Math.ceil((Date.parse(x.validTo) - Date.parse(x.validFrom)) / HOUR_MS));
const cnOf = (x: X509Certificate): string | undefined => /(?:^|\n)CN=([^\n]+)/.exec(x.subject)?.[1];
const fp = (x: X509Certificate): string => x.fingerprint256;
const selfSigned = (x: X509Certificate): boolean => x.subject === x.issuer && x.verify(x.publicKey);

function sansOf(x: X509Certificate): { dnsNames: string[]; ipAddresses: string[]; uris: string[] } {
  const out = { dnsNames: [] as string[], ipAddresses: [] as string[], uris: [] as string[] };
  for (const m of (x.subjectAltName ?? '').matchAll(/(DNS|IP Address|URI):([^,]*)/g)) {
    const v = defined(m[2]).trim();
    (m[1] === 'DNS' ? out.dnsNames : m[1] === 'IP Address' ? out.ipAddresses : out.uris).push(v);
  }
  return out;
}

/** cert-manager usages (or, without them, the certificate's EKU) as rekey's usage. No EKU means any: clientserver. */
function usageOf(usages: readonly string[], x: X509Certificate): 'client' | 'server' | 'clientserver' {
  const ekus = new Set(
    usages.length
      ? usages
          .filter((u) => u.endsWith(' auth'))
          .map((u) => (u === 'server auth' ? '1.3.6.1.5.5.7.3.1' : u === 'client auth' ? '1.3.6.1.5.5.7.3.2' : u))
      : ekuOf(x),
  );
  const server = ekus.has('1.3.6.1.5.5.7.3.1');
  const client = ekus.has('1.3.6.1.5.5.7.3.2');
  return server && !client ? 'server' : client && !server ? 'client' : 'clientserver';
}

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 128);

/** A unique item name: the preferred one, else prefixed with the namespace, else numbered. */
function uniqueName(taken: Set<string>, preferred: string, namespace?: string): string {
  let name = safeName(preferred);
  if (taken.has(name) && namespace) name = safeName(`${namespace}-${preferred}`);
  for (let i = 2; taken.has(name); i++) name = safeName(`${preferred}-${i}`);
  taken.add(name);
  return name;
}

interface AuthorityEntry {
  readonly name: string;
  readonly parsed: Parsed;
  readonly secret: ObservedSecret;
  parent?: string;
  hours: number;
}

interface LeafEntry {
  name: string;
  readonly namespace: string;
  readonly secretName: string;
  readonly issuer: string;
  readonly parsed: Parsed;
  readonly usage: 'client' | 'server' | 'clientserver';
  readonly commonName: string;
  readonly organizations: readonly string[];
  readonly renewBefore?: string;
  readonly clusters: string[];
  readonly consumers: Set<string>;
  readonly adopt: boolean;
  readonly newAuthority?: boolean;
}

/**
 * Turns what the clusters hold into an inventory, purely. Authorities: the CA Secrets behind cert-manager CA issuers
 * and CA Certificates (self-signed ones are roots, others hang under the authority that signed them). Certificates:
 * cert-manager Certificates signed by one of those, and TLS Secrets nobody manages (their issuer, when unknown,
 * becomes a new authority rekey will sign the next version with). Workloads mounting a Secret become its consumers.
 * Everything whose material is valid is `adopt: true`: the first apply keeps it as it is.
 */
export function buildImport(
  snapshots: readonly ClusterSnapshot[],
  options: { name: string; clusterResourceNamespace?: string; now: Date },
): ImportPlan {
  const notImportable: NotImportable[] = [];
  const notes: string[] = [];
  const taken = new Set<string>();
  const authorities = new Map<string, AuthorityEntry>(); // by certificate fingerprint
  const issuerAuthority = new Map<string, string>(); // cluster/kind/ns/name -> authority name
  const crNamespace = options.clusterResourceNamespace ?? 'cert-manager';
  const issuerKey = (cluster: string, kind: string, ns: string | undefined, name: string) =>
    `${cluster}/${kind}/${kind === 'ClusterIssuer' ? '' : ns}/${name}`;

  const addAuthority = (
    preferred: string,
    namespace: string | undefined,
    secret: ObservedSecret,
    cluster: string,
    kind: string,
  ): AuthorityEntry | undefined => {
    const parsed = parseTls(secret);
    if (typeof parsed === 'string') {
      notImportable.push({
        cluster,
        kind,
        ...(namespace && { namespace }),
        name: preferred,
        reason: `CA Secret ${secret.namespace}/${secret.name}: ${parsed}`,
      });
      return undefined;
    }
    if (!parsed.leaf.ca) {
      notImportable.push({
        cluster,
        kind,
        ...(namespace && { namespace }),
        name: preferred,
        reason: `CA Secret ${secret.namespace}/${secret.name} holds a certificate that is not a CA`,
      });
      return undefined;
    }
    const hit = authorities.get(fp(parsed.leaf));
    if (hit) return hit;
    const entry: AuthorityEntry = { name: uniqueName(taken, preferred, namespace), parsed, secret, hours: hoursOf(parsed.leaf) };
    authorities.set(fp(parsed.leaf), entry);
    return entry;
  };

  // 1. Authorities: CA issuers' Secrets, then CA Certificates not behind an issuer.
  for (const s of snapshots) {
    for (const issuer of s.issuers) {
      if (issuer.type !== 'ca') continue;
      const ns = issuer.kind === 'ClusterIssuer' ? crNamespace : defined(issuer.namespace);
      const secret = issuer.caSecretName ? s.secrets.get(`${ns}/${issuer.caSecretName}`) : undefined;
      if (!secret) {
        notImportable.push({
          cluster: s.cluster,
          kind: issuer.kind,
          ...(issuer.namespace && { namespace: issuer.namespace }),
          name: issuer.name,
          reason: `its CA Secret ${ns}/${issuer.caSecretName ?? '?'} was not found`,
        });
        continue;
      }
      const a = addAuthority(issuer.name, issuer.namespace, secret, s.cluster, issuer.kind);
      if (a) issuerAuthority.set(issuerKey(s.cluster, issuer.kind, issuer.namespace, issuer.name), a.name);
    }
    for (const c of s.certificates.filter((x) => x.isCA)) {
      const secret = s.secrets.get(`${c.namespace}/${c.secretName}`);
      if (secret) addAuthority(c.name, c.namespace, secret, s.cluster, 'Certificate');
    }
  }
  // Parents: the authority whose certificate signed this one.
  const all = [...authorities.values()];
  for (const a of all) {
    if (selfSigned(a.parsed.leaf)) continue;
    const parent = all.find((p) => p !== a && a.parsed.leaf.checkIssued(p.parsed.leaf) && a.parsed.leaf.verify(p.parsed.leaf.publicKey));
    if (parent) a.parent = parent.name;
  }
  for (const a of all) {
    if (!selfSigned(a.parsed.leaf) && !a.parent) {
      authorities.delete(fp(a.parsed.leaf));
      notImportable.push({
        cluster: '*',
        kind: 'Authority',
        name: a.name,
        reason: `intermediate CA signed by "${oneLine(a.parsed.leaf.issuer)}", which is not among the imported authorities`,
      });
    }
  }
  const authorityNames = new Set([...authorities.values()].map((a) => a.name));
  // A child must not outlive its parent in the inventory; clamp (the stored certificate keeps its real dates).
  const byName = new Map([...authorities.values()].map((a) => [a.name, a]));
  const depth = (a: AuthorityEntry): number => (a.parent ? 1 + depth(defined(byName.get(a.parent))) : 0);
  for (const a of [...authorities.values()].sort((x, y) => depth(x) - depth(y)))
    if (a.parent) a.hours = Math.min(a.hours, defined(byName.get(a.parent)).hours);

  // 2. Leaves from cert-manager Certificates.
  const leaves = new Map<string, LeafEntry>(); // by namespace/secretName
  const claimed = new Set<string>();
  const usesOf = (s: ClusterSnapshot, ns: string, secret: string) =>
    s.uses.filter((u) => u.namespace === ns && u.secret === secret).map((u) => `${u.workload.kind}/${u.workload.name}`);
  const addLeaf = (s: ClusterSnapshot, key: string, make: () => LeafEntry | undefined) => {
    const existing = leaves.get(key);
    if (existing) {
      const secret = defined(s.secrets.get(key));
      const parsed = parseTls(secret);
      if (typeof parsed === 'string' || fp(parsed.leaf) !== fp(existing.parsed.leaf))
        notes.push(
          `${key}: ${s.cluster} holds other material than ${existing.clusters[0]}; the first apply keeps ${existing.clusters[0]}'s and writes it to ${s.cluster}`,
        );
      existing.clusters.push(s.cluster);
      for (const c of usesOf(s, existing.namespace, existing.secretName)) existing.consumers.add(c);
      return;
    }
    const entry = make();
    if (entry) leaves.set(key, entry);
  };
  for (const s of snapshots) {
    for (const c of s.certificates) {
      const key = `${c.namespace}/${c.secretName}`;
      claimed.add(`${s.cluster}/${key}`);
      if (c.isCA) continue;
      const base = { cluster: s.cluster, kind: 'Certificate', namespace: c.namespace, name: c.name };
      const issuer = s.issuers.find(
        (i) => i.name === c.issuerRef.name && i.kind === c.issuerRef.kind && (i.kind === 'ClusterIssuer' || i.namespace === c.namespace),
      );
      const authority = issuerAuthority.get(issuerKey(s.cluster, c.issuerRef.kind, c.namespace, c.issuerRef.name));
      if (c.issuerRef.group && c.issuerRef.group !== 'cert-manager.io') {
        notImportable.push({
          ...base,
          reason: `issued by an external issuer (${c.issuerRef.group}/${c.issuerRef.kind} ${c.issuerRef.name}) whose CA key rekey cannot hold`,
        });
        continue;
      }
      if (!issuer) {
        notImportable.push({ ...base, reason: `its ${c.issuerRef.kind} "${c.issuerRef.name}" was not found` });
        continue;
      }
      if (!authority || !authorityNames.has(authority)) {
        const why =
          issuer.type === 'selfSigned'
            ? 'a self-signed leaf certificate: rekey signs leaves with an authority (issue it from a CA issuer, or import its Secret alone)'
            : issuer.type === 'ca'
              ? 'its CA issuer could not be imported (see above)'
              : `issuer type ${issuer.type}: certificates are signed by a CA outside the cluster (${issuer.type}) whose key rekey cannot hold`;
        notImportable.push({ ...base, reason: why });
        continue;
      }
      const secret = s.secrets.get(key);
      addLeaf(s, key, () => {
        const parsed = secret ? parseTls(secret) : 'its Secret does not exist yet';
        if (typeof parsed === 'string') {
          notImportable.push({ ...base, reason: `Secret ${key}: ${parsed}` });
          return undefined;
        }
        return {
          name: uniqueName(taken, c.name, c.namespace),
          namespace: c.namespace,
          secretName: c.secretName,
          issuer: authority,
          parsed,
          usage: usageOf(c.usages, parsed.leaf),
          commonName: c.commonName ?? cnOf(parsed.leaf) ?? c.dnsNames[0] ?? c.name,
          organizations: c.organizations,
          ...(c.renewBefore && { renewBefore: c.renewBefore }),
          clusters: [s.cluster],
          consumers: new Set(usesOf(s, c.namespace, c.secretName)),
          adopt: true,
        };
      });
    }
  }

  // 3. TLS Secrets no one manages: not cert-manager's, not rekey's, not an authority's.
  const authoritySecrets = new Set([...authorities.values()].map((a) => `${a.secret.namespace}/${a.secret.name}`));
  for (const s of snapshots) {
    for (const [key, secret] of s.secrets) {
      if (secret.type !== 'kubernetes.io/tls' || claimed.has(`${s.cluster}/${key}`) || authoritySecrets.has(key)) continue;
      if (secret.annotations[CERT_MANAGER_ANNOTATION] || secret.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) continue;
      const base = { cluster: s.cluster, kind: 'Secret', namespace: secret.namespace, name: secret.name };
      addLeaf(s, key, () => {
        const parsed = parseTls(secret);
        if (typeof parsed === 'string') {
          notImportable.push({ ...base, reason: parsed });
          return undefined;
        }
        if (parsed.leaf.ca && !selfSigned(parsed.leaf)) {
          notImportable.push({ ...base, reason: 'holds an intermediate CA certificate; import it through the issuer that uses it' });
          return undefined;
        }
        const signer = [...authorities.values()].find(
          (a) => parsed.leaf.checkIssued(a.parsed.leaf) && parsed.leaf.verify(a.parsed.leaf.publicKey),
        );
        let issuer = signer?.name;
        if (!issuer) {
          // Signed by a CA rekey does not hold (or self-signed): the next version is signed by a new authority.
          issuer = uniqueName(taken, `${secret.name}-ca`, secret.namespace);
          notes.push(
            `${key}: signed by "${oneLine(parsed.leaf.issuer)}", which rekey does not hold; it is kept as it is, and its next version is signed by the new authority ${issuer}`,
          );
        }
        return {
          name: uniqueName(taken, secret.name, secret.namespace),
          namespace: secret.namespace,
          secretName: secret.name,
          issuer,
          parsed,
          usage: usageOf([], parsed.leaf),
          commonName: cnOf(parsed.leaf) ?? secret.name,
          organizations: [],
          clusters: [s.cluster],
          consumers: new Set(usesOf(s, secret.namespace, secret.name)),
          adopt: true,
          ...(!signer && { newAuthority: true }),
        };
      });
    }
  }

  // Due soon: said, not hidden; apply will renew those.
  for (const l of leaves.values()) {
    const left = Date.parse(l.parsed.leaf.validTo) - options.now.getTime();
    if (left <= 0) notes.push(`${l.namespace}/${l.secretName}: expired ${l.parsed.leaf.validTo}; the first apply issues a new one`);
  }

  const clusters = snapshots.map((s) => s.cluster);
  const clusterNames = new Map(
    clusters.map((c) => [
      c,
      DNS_LABEL.test(c)
        ? c
        : c
            .toLowerCase()
            .replace(/[^a-z0-9-]/g, '-')
            .replace(/^-+|-+$/g, '') || 'cluster',
    ]),
  );
  const authorityDocs = [...authorities.values()]
    .sort((x, y) => depth(x) - depth(y) || x.name.localeCompare(y.name))
    .map((a) => ({
      name: a.name,
      commonName: (cnOf(a.parsed.leaf) ?? a.name).slice(0, 64),
      key: a.parsed.keyType,
      validity: `${a.hours}h`,
      ...(a.parent && { parent: a.parent }),
    }));
  const newAuthorities = [...leaves.values()]
    .filter((l) => l.newAuthority)
    .map((l) => ({
      name: l.issuer,
      commonName: `${l.secretName} CA`.slice(0, 64),
      key: l.parsed.keyType,
      validity: `${Math.max(87600, hoursOf(l.parsed.leaf))}h`,
    }));
  const hoursByAuthority = new Map<string, number>([...authorities.values()].map((a) => [a.name, a.hours]));
  for (const n of newAuthorities) hoursByAuthority.set(n.name, Number.parseInt(n.validity, 10));
  const certificateDocs = [...leaves.values()]
    .sort((x, y) => x.name.localeCompare(y.name))
    .map((l) => {
      const sans = sansOf(l.parsed.leaf);
      const hours = Math.min(hoursOf(l.parsed.leaf), hoursByAuthority.get(l.issuer) ?? Number.MAX_SAFE_INTEGER);
      const renewBefore =
        l.renewBefore && parseHours(l.renewBefore) !== undefined && defined(parseHours(l.renewBefore)) < hours ? l.renewBefore : undefined;
      return {
        name: l.name,
        issuer: l.issuer,
        usage: l.usage,
        commonName: l.commonName.slice(0, 64),
        ...(l.organizations.length && { organization: [...l.organizations] }),
        key: l.parsed.keyType,
        validity: `${hours}h`,
        ...(renewBefore && { renewBefore }),
        ...(sans.dnsNames.length && { dnsNames: sans.dnsNames }),
        ...(sans.ipAddresses.length && { ipAddresses: sans.ipAddresses }),
        ...(sans.uris.length && { uris: sans.uris }),
        secret: {
          name: l.secretName,
          namespace: l.namespace,
          ...(l.clusters.length < clusters.length && { clusters: l.clusters.map((c) => defined(clusterNames.get(c))) }),
        },
        adopt: l.adopt,
        ...(l.consumers.size && { consumers: [...l.consumers].sort() }),
      };
    });
  const document = {
    apiVersion: 'rekey/v1',
    kind: 'Inventory',
    metadata: { name: options.name },
    clusters: clusters.map((c) => ({ name: defined(clusterNames.get(c)), context: c })),
    authorities: [...authorityDocs, ...newAuthorities],
    certificates: certificateDocs,
  };
  const material: AuthorityMaterial[] = [...authorities.values()].map((a) => ({
    name: a.name,
    certPem: derToPem(Buffer.from(a.parsed.leaf.raw), 'CERTIFICATE'),
    keyPem: a.parsed.keyPem,
    chainPem: a.parsed.rest
      .filter((x) => !selfSigned(x))
      .map((x) => derToPem(Buffer.from(x.raw), 'CERTIFICATE'))
      .join(''),
    caPem: a.secret.data['ca.crt'] ?? derToPem(Buffer.from(a.parsed.leaf.raw), 'CERTIFICATE'),
    keyType: a.parsed.keyType,
    ...(a.parent && { parent: a.parent }),
  }));
  return { document, authorities: material, notImportable, notes };
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

/** cert-manager durations are Go durations; only hours/minutes/seconds matter for the comparison. */
function parseHours(d: string): number | undefined {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  if (!m || !d) return undefined;
  return Number(m[1] ?? 0) + Number(m[2] ?? 0) / 60 + Number(m[3] ?? 0) / 3600;
}
