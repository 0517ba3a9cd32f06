import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { NotFoundError, TransientError, UsageError } from '../../domain/errors.js';
import type { CmCertificate, CmIssuer, ImportSource } from '../../app/import/source.js';
import type { ObservedSecret, SecretUse } from '../../ports/cluster.js';
import type { Logger } from '../../ports/logger.js';
import { makeClient, type KubeClient } from './client.js';
import { call, type Operation } from './errors.js';
import { observedOf } from './secret-patch.js';
import { KubeWorkloadControl } from './workloads.js';
import { defined } from '../../domain/defined.js';

const CERT_MANAGER = 'cert-manager.io/v1';
const PAGE = 500;

type Obj = KubernetesObject & { spec?: Record<string, unknown> };

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

function certificateOf(o: Obj): CmCertificate | undefined {
  const s = o.spec ?? {};
  const ref = (s.issuerRef ?? {}) as Record<string, unknown>;
  const secretName = str(s.secretName);
  if (!secretName || !str(ref.name)) return undefined;
  const subject = (s.subject ?? {}) as Record<string, unknown>;
  return {
    namespace: defined(o.metadata?.namespace, 'a namespaced object'),
    name: defined(o.metadata?.name, 'a named object'),
    secretName,
    issuerRef: { name: defined(str(ref.name)), kind: str(ref.kind) ?? 'Issuer', ...(str(ref.group) && { group: defined(str(ref.group)) }) },
    isCA: s.isCA === true,
    ...(str(s.commonName) && { commonName: defined(str(s.commonName)) }),
    dnsNames: strings(s.dnsNames),
    ipAddresses: strings(s.ipAddresses),
    uris: strings(s.uris),
    usages: strings(s.usages),
    ...(str(s.duration) && { duration: defined(str(s.duration)) }),
    ...(str(s.renewBefore) && { renewBefore: defined(str(s.renewBefore)) }),
    organizations: strings(subject.organizations),
  };
}

const ISSUER_TYPES = ['ca', 'selfSigned', 'acme', 'vault', 'venafi'] as const;

function issuerOf(o: Obj, kind: CmIssuer['kind']): CmIssuer {
  const s = o.spec ?? {};
  const type = ISSUER_TYPES.find((t) => t in s) ?? (Object.keys(s)[0] || 'unknown');
  const ca = (s.ca ?? {}) as Record<string, unknown>;
  return {
    kind,
    ...(kind === 'Issuer' && { namespace: defined(o.metadata?.namespace, 'a namespaced Issuer') }),
    name: defined(o.metadata?.name, 'a named issuer'),
    type,
    ...(str(ca.secretName) && { caSecretName: str(ca.secretName) }),
  };
}

/** Reads, never writes: lists cert-manager objects and TLS Secrets page by page, workloads per namespace. */
export class KubeImportSource implements ImportSource {
  private readonly workloads: KubeWorkloadControl;
  private readonly listAttempts: number;
  private readonly retryDelayMs: number;
  constructor(
    private readonly client: KubeClient,
    options: { readonly listAttempts?: number; readonly retryDelayMs?: number } = {},
  ) {
    this.workloads = new KubeWorkloadControl(client);
    this.listAttempts = options.listAttempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 500;
  }

  get cluster(): string {
    return this.client.cluster;
  }

  private op(resource: string, namespace?: string): Operation {
    return { cluster: this.client.cluster, verb: 'list', resource, ...(namespace && { namespace }) };
  }

  /**
   * One list call per kind and scope, unpaged: client-node's generic list drops the `continue` token of custom
   * resources, so paging would silently stop after the first page. A list answered 429 or 5xx (right after its CRD
   * was created the API says "storage is (re)initializing"; its priority and fairness may throttle) is asked again,
   * as kubectl does, a few times over about five seconds before the error stands.
   */
  private async listAll(kind: string, resource: string, namespace: string | undefined): Promise<Obj[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const list = await call(this.op(resource, namespace), () => this.client.objects.list(CERT_MANAGER, kind, namespace));
        return list.items;
      } catch (e) {
        if (!(e instanceof TransientError) || attempt >= this.listAttempts) throw e;
        await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs * attempt));
      }
    }
  }

  async certManager(namespaces: readonly string[] | undefined) {
    const scopes = namespaces ?? [undefined];
    try {
      const certificates: CmCertificate[] = [];
      const issuers: CmIssuer[] = [];
      for (const ns of scopes) {
        for (const o of await this.listAll('Certificate', 'certificates.cert-manager.io', ns)) {
          const c = certificateOf(o);
          if (c) certificates.push(c);
        }
        for (const o of await this.listAll('Issuer', 'issuers.cert-manager.io', ns)) issuers.push(issuerOf(o, 'Issuer'));
      }
      for (const o of await this.listAll('ClusterIssuer', 'clusterissuers.cert-manager.io', undefined))
        issuers.push(issuerOf(o, 'ClusterIssuer'));
      return { installed: true, certificates, issuers };
    } catch (e) {
      // Discovery does not know the kind (no CRDs) or the list is 404: cert-manager is not installed here.
      if (e instanceof NotFoundError || /Unrecognized API version and kind|not found/i.test((e as Error).message))
        return { installed: false, certificates: [], issuers: [] };
      throw e;
    }
  }

  async tlsSecrets(namespaces: readonly string[] | undefined): Promise<ObservedSecret[]> {
    const out: ObservedSecret[] = [];
    for (const ns of namespaces ?? [undefined]) {
      let token: string | undefined;
      do {
        const page = await call(this.op('secrets', ns), () =>
          ns
            ? this.client.core.listNamespacedSecret({
                namespace: ns,
                fieldSelector: 'type=kubernetes.io/tls',
                limit: PAGE,
                ...(token && { _continue: token }),
              })
            : this.client.core.listSecretForAllNamespaces({
                fieldSelector: 'type=kubernetes.io/tls',
                limit: PAGE,
                ...(token && { _continue: token }),
              }),
        );
        out.push(...page.items.map((s) => observedOf(s)));
        token = page.metadata?._continue || undefined;
      } while (token);
    }
    return out;
  }

  async getSecret(namespace: string, name: string): Promise<ObservedSecret | undefined> {
    try {
      return observedOf(
        await call({ cluster: this.client.cluster, verb: 'get', resource: 'secrets', namespace, name }, () =>
          this.client.core.readNamespacedSecret({ name, namespace }),
        ),
      );
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  secretUses(namespace: string): Promise<SecretUse[]> {
    return this.workloads.findSecretUses(namespace);
  }
}

/** One read-only source per kubeconfig context (default: the current context). */
export function connectImportSources(options: { kubeconfig?: string; contexts: readonly string[]; log: Logger }): ImportSource[] {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new UsageError(`cannot read kubeconfig ${options.kubeconfig ?? ''}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const contexts = options.contexts.length ? options.contexts : [kc.getCurrentContext()];
  return contexts.map((context) => {
    if (!kc.getContextObject(context))
      throw new UsageError(
        `--context ${context}: not in the kubeconfig (contexts there: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
      );
    const own = new KubeConfig();
    own.loadFromOptions({ clusters: kc.getClusters(), users: kc.getUsers(), contexts: kc.getContexts(), currentContext: context });
    return new KubeImportSource(
      makeClient({ cluster: context, context, kubeConfig: own, log: options.log, requestTimeoutMs: 30_000, maxSockets: 16 }),
    );
  });
}
