// Typed access to the environment of the real test infrastructure (test/infra/up.sh).
//
// The scripts write `export NAME='value'` lines to $REKEY_INFRA_RUN/env.sh (default
// /tmp/rekey-infra/env.sh). `loadInfraEnv()` parses that file, assigns every variable into
// process.env (so SDKs and child processes see them) and returns a typed view. It throws
// (tests fail, never skip) when the file is missing or a variable a caller needs is absent.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type InfraComponent =
  'kube' | 'moto' | 'postgres' | 'proxy' | 'chromium' | 'zlint' | 'pebble' | 'alertmanager' | 'schemathesis' | 'node22';

export interface KubeClusterEnv {
  /** https://127.0.0.1:PORT */
  server: string;
  /** CA that signed the API server's serving certificate */
  caCert: string;
  /** CA the API server trusts for client certificates (mint restricted users with it) */
  clientCaCert: string;
  clientCaKey: string;
  /** kubeconfig with only this cluster (admin, system:masters) */
  adminKubeconfig: string;
}

export interface InfraEnv {
  runDir: string;
  envFile: string;
  kube: {
    /** one file, contexts dc1 and dc2 (admin client certificates), current context dc1 */
    kubeconfig: string;
    kubectl: string;
    version: string;
    dc1: KubeClusterEnv;
    dc2: KubeClusterEnv;
  };
  aws: { endpoint: string; motoUrl: string; region: string; accessKeyId: string; secretAccessKey: string };
  postgres: {
    adminUrl: string;
    host: string;
    port: number;
    adminUser: string;
    adminPassword: string;
    binDir: string;
    /** server.crt, server.key (server certificate) and root.crt (CA for client certificates) */
    tlsDir: string;
    reloadCmd: string;
    initCa: string;
    initCaKey: string;
    initClientCert: string;
    initClientKey: string;
  };
  proxy: {
    url: string;
    /** server.crt, server.key and client-ca.crt */
    tlsDir: string;
    reloadCmd: string;
    backendUrl: string;
    initCa: string;
    initCaKey: string;
    initClientCert: string;
    initClientKey: string;
  };
  chromiumPath: string;
  /** the zlint binary (X.509 linter), built by test/infra/components/zlint.sh */
  zlintPath: string;
  /** pebble (ACME test server) and pebble-challtestsrv (its DNS), test/infra/components/pebble.sh */
  pebble: { directory: string; roots: string; caCert: string; challtestsrvUrl: string };
  /** the alertmanager binary, built by test/infra/components/alertmanager.sh (tests start their own) */
  alertmanagerPath: string;
  /** schemathesis' `st` command, installed by test/infra/components/schemathesis.sh */
  schemathesisPath: string;
  /** Node 22 (Lambda's nodejs22.x major; the machine's node is 20), test/infra/components/node22.sh */
  node22Path: string;
  /** every variable of the env file */
  vars: Readonly<Record<string, string>>;
}

export function infraRunDir(): string {
  return process.env.REKEY_INFRA_RUN || '/tmp/rekey-infra';
}

export function infraEnvFile(): string {
  return join(infraRunDir(), 'env.sh');
}

/** Parse `export NAME='value'` / `export NAME=value` lines (what test/infra writes). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) {
      value = value.slice(1, -1).replace(/'\\''/g, "'");
    } else if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1);
    }
    out[m[1]!] = value;
  }
  return out;
}

const lazy =
  (vars: Record<string, string>, file: string) =>
  (name: string): string => {
    const v = vars[name];
    if (v === undefined || v === '') {
      throw new Error(
        `${name} is not in ${file}: is that part of the test infrastructure up? (bash test/infra/up.sh; bash test/infra/status.sh)`,
      );
    }
    return v;
  };

/**
 * Read the infra env file, assign its variables into process.env and return a typed view.
 * Getters throw on first use of a variable the file lacks, so a test using only moto does
 * not need the clusters; pass `require` to check components up front.
 */
export function loadInfraEnv(opts: { require?: InfraComponent[] } = {}): InfraEnv {
  const file = infraEnvFile();
  if (!existsSync(file)) {
    throw new Error(`test infrastructure env file ${file} is missing: run \`npm run infra:up\` (the integration global setup does)`);
  }
  const vars = parseEnvFile(readFileSync(file, 'utf8'));
  for (const [k, v] of Object.entries(vars)) process.env[k] = v;
  const get = lazy(vars, file);
  const cluster = (dc: 'DC1' | 'DC2'): KubeClusterEnv => ({
    get server() {
      return get(`KUBE_${dc}_SERVER`);
    },
    get caCert() {
      return get(`KUBE_${dc}_CA_CERT`);
    },
    get clientCaCert() {
      return get(`KUBE_${dc}_CLIENT_CA_CERT`);
    },
    get clientCaKey() {
      return get(`KUBE_${dc}_CLIENT_CA_KEY`);
    },
    get adminKubeconfig() {
      return get(`KUBE_${dc}_ADMIN_KUBECONFIG`);
    },
  });
  const env: InfraEnv = {
    runDir: infraRunDir(),
    envFile: file,
    kube: {
      get kubeconfig() {
        return get('KUBECONFIG');
      },
      get kubectl() {
        return get('KUBECTL');
      },
      get version() {
        return get('K8S_VERSION');
      },
      dc1: cluster('DC1'),
      dc2: cluster('DC2'),
    },
    aws: {
      get endpoint() {
        return get('AWS_ENDPOINT_URL');
      },
      get motoUrl() {
        return get('MOTO_URL');
      },
      get region() {
        return get('AWS_REGION');
      },
      get accessKeyId() {
        return get('AWS_ACCESS_KEY_ID');
      },
      get secretAccessKey() {
        return get('AWS_SECRET_ACCESS_KEY');
      },
    },
    postgres: {
      get adminUrl() {
        return get('PG_ADMIN_URL');
      },
      get host() {
        return get('PGHOST');
      },
      get port() {
        return Number(get('PGPORT'));
      },
      get adminUser() {
        return get('PG_ADMIN_USER');
      },
      get adminPassword() {
        return get('PG_ADMIN_PASSWORD');
      },
      get binDir() {
        return get('PG_BIN');
      },
      get tlsDir() {
        return get('PG_TLS_DIR');
      },
      get reloadCmd() {
        return get('PG_RELOAD_CMD');
      },
      get initCa() {
        return get('PG_INIT_CA');
      },
      get initCaKey() {
        return get('PG_INIT_CA_KEY');
      },
      get initClientCert() {
        return get('PG_INIT_CLIENT_CERT');
      },
      get initClientKey() {
        return get('PG_INIT_CLIENT_KEY');
      },
    },
    proxy: {
      get url() {
        return get('PROXY_URL');
      },
      get tlsDir() {
        return get('PROXY_TLS_DIR');
      },
      get reloadCmd() {
        return get('PROXY_RELOAD_CMD');
      },
      get backendUrl() {
        return get('BACKEND_URL');
      },
      get initCa() {
        return get('PROXY_INIT_CA');
      },
      get initCaKey() {
        return get('PROXY_INIT_CA_KEY');
      },
      get initClientCert() {
        return get('PROXY_INIT_CLIENT_CERT');
      },
      get initClientKey() {
        return get('PROXY_INIT_CLIENT_KEY');
      },
    },
    get chromiumPath() {
      return get('CHROMIUM_PATH');
    },
    get zlintPath() {
      return get('ZLINT_PATH');
    },
    pebble: {
      get directory() {
        return get('PEBBLE_DIRECTORY');
      },
      get roots() {
        return get('PEBBLE_ROOTS');
      },
      get caCert() {
        return get('PEBBLE_CA_CERT');
      },
      get challtestsrvUrl() {
        return get('CHALLTESTSRV_URL');
      },
    },
    get alertmanagerPath() {
      return get('ALERTMANAGER_PATH');
    },
    get schemathesisPath() {
      return get('SCHEMATHESIS_PATH');
    },
    get node22Path() {
      return get('NODE22_PATH');
    },
    vars,
  };
  const probe: Record<InfraComponent, () => unknown> = {
    kube: () => [env.kube.kubeconfig, env.kube.dc1.server, env.kube.dc2.server],
    moto: () => [env.aws.endpoint, env.aws.motoUrl],
    postgres: () => [env.postgres.adminUrl, env.postgres.tlsDir],
    proxy: () => [env.proxy.url, env.proxy.tlsDir],
    chromium: () => env.chromiumPath,
    zlint: () => env.zlintPath,
    pebble: () => [env.pebble.directory, env.pebble.challtestsrvUrl],
    alertmanager: () => env.alertmanagerPath,
    schemathesis: () => env.schemathesisPath,
    node22: () => env.node22Path,
  };
  for (const c of opts.require ?? []) probe[c]();
  return env;
}

/** Forget every resource in every moto service (POST /moto-api/reset). Call between tests. */
export async function resetMoto(): Promise<void> {
  const url = process.env.MOTO_URL ?? loadInfraEnv({ require: ['moto'] }).aws.motoUrl;
  const res = await fetch(`${url}/moto-api/reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status} ${await res.text()}`);
}

/** Run a reload command from the env (PG_RELOAD_CMD, PROXY_RELOAD_CMD); throws on failure. */
export async function runReload(cmd: string): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) => {
    execFile('bash', ['-c', cmd], { timeout: 60_000 }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${cmd} failed: ${stderr || err.message}`)) : resolve(),
    );
  });
}
