import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake API server saw: method, path and content type of each request. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType?: string;
  readonly body?: unknown;
  readonly authorization?: string;
}

type Obj = Record<string, any>;

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Obj = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * A small stand-in for kube-apiserver, enough for unit tests of the adapter's request logic: Secrets (list, get,
 * create, merge-patch with resourceVersion preconditions), Deployments (get, patch), pod evictions, and canned
 * failures. The real protocol is tested against real clusters in test/integration/kube.
 */
export class FakeApiServer {
  readonly requests: SeenRequest[] = [];
  readonly objects = new Map<string, Obj>();
  connections = 0;
  /** Namespaces where every request answers 403. */
  readonly forbidden = new Set<string>();
  /** Namespaces that do not exist (creates answer 404). */
  readonly missingNamespaces = new Set<string>();
  /** Pods whose eviction answers 429 (a PodDisruptionBudget). */
  readonly protectedPods = new Set<string>();
  private rv = 100;
  private server?: Server;

  put(path: string, obj: Obj): Obj {
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(path, stored);
    return stored;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', () => this.connections++);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  kubeconfig(server: string, contexts: readonly string[] = ['dc1']): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake\n  cluster: {server: "${server}", insecure-skip-tls-verify: true}`,
      'users:',
      '- name: u\n  user: {token: not-a-real-token}',
      'contexts:',
      ...contexts.map((c) => `- name: ${c}\n  context: {cluster: fake, user: u}`),
      `current-context: ${contexts[0]}`,
    ].join('\n');
  }

  private send(res: ServerResponse, code: number, body: unknown) {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string) {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : undefined;
    const url = new URL(req.url!, 'http://x');
    const path = url.pathname;
    this.requests.push({
      method: req.method!,
      path,
      ...(req.headers['content-type'] && { contentType: req.headers['content-type'] }),
      ...(body !== undefined && { body }),
      ...(req.headers.authorization && { authorization: req.headers.authorization }),
    });
    const ns = /\/namespaces\/([^/]+)\//.exec(path)?.[1];
    if (ns && this.forbidden.has(ns)) {
      this.status(res, 403, 'Forbidden', `secrets is forbidden: User "u" cannot ${req.method} resource in the namespace "${ns}"`);
      return;
    }

    if (path === '/apis/kubedb.com/v1' && req.method === 'GET') {
      this.send(res, 200, {
        kind: 'APIResourceList',
        groupVersion: 'kubedb.com/v1',
        resources: [{ name: 'postgreses', singularName: 'postgres', namespaced: true, kind: 'Postgres', verbs: ['get', 'patch'] }],
      });
      return;
    }
    const list = /^\/(api\/v1|apis\/apps\/v1)\/namespaces\/([^/]+)\/([a-z]+)$/.exec(path);
    if (list && req.method === 'GET') {
      const items = [...this.objects.entries()].filter(([k]) => k.startsWith(`${path}/`)).map(([, v]) => v);
      this.send(res, 200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
      return;
    }
    if (list && req.method === 'POST') {
      if (this.missingNamespaces.has(list[2]!)) {
        this.status(res, 404, 'NotFound', `namespaces "${list[2]}" not found`);
        return;
      }
      const key = `${path}/${body.metadata.name}`;
      if (this.objects.has(key)) {
        this.status(res, 409, 'AlreadyExists', `secrets "${body.metadata.name}" already exists`);
        return;
      }
      this.send(res, 201, this.put(key, { ...body, metadata: { ...body.metadata, namespace: list[2] } }));
      return;
    }
    const eviction = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/.exec(path);
    if (eviction && req.method === 'POST') {
      if (this.protectedPods.has(eviction[2]!)) {
        this.status(res, 429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.");
        return;
      }
      this.objects.delete(path.replace(/\/eviction$/, ''));
      this.send(res, 201, { kind: 'Status', status: 'Success' });
      return;
    }
    const existing = this.objects.get(path);
    if (req.method === 'GET') {
      if (existing) this.send(res, 200, existing);
      else this.status(res, 404, 'NotFound', `"${path}" not found`);
      return;
    }
    if (req.method === 'PATCH') {
      if (!existing) {
        this.status(res, 404, 'NotFound', `"${path}" not found`);
        return;
      }
      const want = body?.metadata?.resourceVersion;
      if (want !== undefined && want !== existing.metadata.resourceVersion) {
        this.status(res, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
        return;
      }
      const merged = mergePatch(existing, body) as Obj;
      if (merged.spec?.template && JSON.stringify(merged.spec) !== JSON.stringify(existing.spec))
        merged.metadata.generation = (existing.metadata.generation ?? 1) + 1;
      this.send(res, 200, this.put(path, merged));
      return;
    }
    this.status(res, 405, 'MethodNotAllowed', `${req.method} ${path}`);
  }
}
