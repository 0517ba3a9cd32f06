import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { RemediationFile } from '../../shared/adapters/local/remediation-file.js';
import { alertService } from '../../shared/app/alerts/service.js';
import { createApi } from '../../shared/app/api/index.js';
import { listenHttps } from '../../shared/app/api/https-server.js';
import { isLogLevel, leveledJsonLogger } from '../../shared/app/api/json-logger.js';
import { syncSigningKeySecret } from '../../shared/app/api/key-secret.js';
import { ensureApiSigningKey } from '../../shared/app/api/signing-key.js';
import { parseSecretRef, selfSignedTls, tlsFromSecret, watchTlsSecret, type TlsMaterial } from '../../shared/app/api/tls.js';
import type { ReadinessCheck } from '../../shared/app/api/backend.js';
import { countingRetries } from '../../shared/app/metrics/retry-counting-queue.js';
import { driveRotations } from '../../shared/app/rotation/index.js';
import { parseDuration } from '../../shared/domain/duration.js';
import { UsageError } from '../../shared/domain/errors.js';
import type { Inventory } from '../../shared/domain/inventory/model.js';
import type { Cluster } from '../../shared/ports/cluster.js';
import type { Logger } from '../../shared/ports/logger.js';
import { composeLocal, defaultKubeconfig, targetFrom } from '../compose.js';
import { out, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';
import { defined } from '../../shared/domain/defined.js';

interface ServeFlags {
  file: string;
  httpPort: string;
  grpcPort: string;
  address: string;
  tlsSecret?: string;
  jwtKeySecret?: string;
  secretsCluster?: string;
  out?: string;
  kubeconfig?: string;
  rateLimit: string;
  tlsReloadInterval: string;
  logLevel: string;
}

/**
 * How long `GET /v1/items` may answer a summary computed earlier when no write of this process changed the store or
 * journal: what is not counted as such a write (owed host-file reloads) shows within this time.
 */
const SERVE_ITEMS_MAX_AGE_SECONDS = 10;

function port(text: string, flag: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`${flag} ${text}: expected a port number (0 picks a free one)`);
  return Number(text);
}

/** The cluster that holds --tls-secret and --jwt-key-secret: a live one from the runtime, or one connected for it. */
async function secretsClusterOf(inv: Inventory, flags: ServeFlags, live: ReadonlyMap<string, Cluster>, log: Logger): Promise<Cluster> {
  const name = flags.secretsCluster ?? defined(inv.clusters[0]).name;
  const ref = inv.clusters.find((c) => c.name === name);
  if (!ref)
    throw new UsageError(`--secrets-cluster ${name}: the inventory has no such cluster (${inv.clusters.map((c) => c.name).join(', ')})`);
  const existing = live.get(name);
  if (existing?.workloads) return existing;
  const kubeconfig = flags.kubeconfig ?? defaultKubeconfig();
  if (!kubeconfig) throw new UsageError('--tls-secret and --jwt-key-secret read a cluster: give --kubeconfig FILE (or set KUBECONFIG)');
  const kube = await import('../../shared/adapters/kube/index.js');
  return defined((await kube.connectClusters([ref], { kubeconfig, log })).get(name));
}

export function registerServe(cli: Command, ctx: CliContext): void {
  cli
    .command('serve')
    .description('the API on HTTPS and gRPC: rotations, items, plan, metrics, alerts (TLS from a Secret or self-signed)')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--http-port <port>', 'HTTPS port', '8628')
    .option('--grpc-port <port>', 'gRPC port (TLS); "off" for none', '8728')
    .option('--address <host>', 'listen address', '0.0.0.0')
    .option('--tls-secret <ns/name>', 'serve with tls.crt/tls.key of this Secret, reloaded when it changes (default: self-signed)')
    .option(
      '--jwt-key-secret <ns/name>',
      'the signing key Secret: used if it holds a key, filled with the stored (or a new) key if missing or empty',
    )
    .option('--secrets-cluster <name>', 'inventory cluster holding those Secrets (default: the first)')
    .option('--out <dir>', 'rotations render Secrets as DIR/<cluster>/<namespace>/<name>.yaml')
    .option('--kubeconfig <file>', 'rotations write into the clusters of this kubeconfig')
    .option('--rate-limit <n>', 'requests per second per client (bursts of twice that); 0: no limit', '50')
    .option('--tls-reload-interval <duration>', 'how often the TLS Secret is re-read', '10s')
    .addOption(
      new Option('--log-level <level>', 'initial log level (PUT /v1/log/level changes it)')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .action(async (flags: ServeFlags) => {
      const inv = readInventory(flags.file);
      const httpPort = port(flags.httpPort, '--http-port');
      const grpcPort = flags.grpcPort === 'off' ? undefined : port(flags.grpcPort, '--grpc-port');
      const rate = Number(flags.rateLimit);
      if (!Number.isFinite(rate) || rate < 0)
        throw new UsageError(`--rate-limit ${flags.rateLimit}: expected a number of requests per second`);
      const reloadMs = parseDuration(flags.tlsReloadInterval);
      if (!reloadMs || reloadMs < 1000)
        throw new UsageError(`--tls-reload-interval ${flags.tlsReloadInterval}: expected a duration of at least 1s`);
      const tlsRef = flags.tlsSecret ? parseSecretRef(flags.tlsSecret, '--tls-secret') : undefined;
      const keyRef = flags.jwtKeySecret ? parseSecretRef(flags.jwtKeySecret, '--jwt-key-secret') : undefined;
      if (!isLogLevel(flags.logLevel)) throw new UsageError(`--log-level ${flags.logLevel}: expected debug, info, warn or error`);
      const logger = leveledJsonLogger({ level: flags.logLevel, base: { inventory: inv.name } });

      const target = flags.out || flags.kubeconfig ? targetFrom(flags, 'required') : { kind: 'none' as const };
      const runtime = await composeLocal(inv, { stateDir: ctx.globals().state, target, log: logger, keepEvents: false });
      const stops: (() => Promise<void> | void)[] = [runtime.close];
      const stopAll = async () => {
        for (const stop of stops.reverse()) await stop();
      };
      try {
        const { deps, bus, queue } = runtime;
        const now = deps.clock.now();
        const secrets = tlsRef || keyRef ? await secretsClusterOf(inv, flags, deps.clusters, logger) : undefined;

        if (keyRef) {
          const { material, source } = await syncSigningKeySecret(defined(secrets).secrets, keyRef, deps.store, inv.name, now);
          logger.info('API signing key ready', { kid: material.kid, source, secret: `${keyRef.namespace}/${keyRef.name}` });
        } else {
          const { material, generated } = await ensureApiSigningKey(deps.store, inv.name, { now });
          logger.info('API signing key ready', { kid: material.kid, source: generated ? 'generated' : 'store' });
        }

        let tls: TlsMaterial = tlsRef ? await tlsFromSecret(defined(secrets).secrets, tlsRef) : selfSignedTls();

        // Loaded here, not at module level: every rekey command imports this file.
        const { RekeyMetrics } = await import('../../shared/app/metrics/registry.js');
        const metrics = new RekeyMetrics({ deps, inventory: inv }, { defaultMetrics: true });
        bus.subscribe((event) => {
          metrics.observe(event);
          return Promise.resolve();
        });
        const drivable = countingRetries(queue, () => metrics.stepRetried());
        // One drive loop at a time; a rotation started while it runs is picked up by the same loop.
        let driving: Promise<void> = Promise.resolve();
        const rotationStarted = () => {
          driving = driving
            .then(() => driveRotations(deps, inv, drivable))
            .catch((e: unknown) => logger.error('rotation drive stopped', { error: e instanceof Error ? e.message : String(e) }));
        };

        const readiness: ReadinessCheck[] = [
          {
            name: 'store',
            check: async () => {
              await deps.store.describe(`rekey/${inv.name}/_api/jwt-signing-key`);
            },
          },
        ];
        for (const c of deps.clusters.values()) {
          if (c.workloads)
            readiness.push({
              name: `cluster:${c.name}`,
              check: async () => {
                await c.secrets.getSecret('default', 'rekey-readiness-probe');
              },
            });
        }

        const api = createApi({
          inventory: inv,
          deps,
          runtime: 'serve',
          logger,
          metrics: () => metrics.text(),
          rotationStarted,
          readiness,
          alerts: alertService({
            deps,
            inventory: inv,
            store: new RemediationFile(join(resolve(ctx.globals().state), 'remediations.json')),
            rotationStarted,
          }),
          router: { rateLimit: rate === 0 ? false : { perSecond: rate, burst: Math.max(1, rate * 2) } },
          // This process holds the state lock, so its own writes are all there are: every one is seen at once.
          storeVersion: () => runtime.changes.value,
          itemsMaxAgeSeconds: SERVE_ITEMS_MAX_AGE_SECONDS,
        });
        const https = await listenHttps({ router: api.router, tls, port: httpPort, host: flags.address });
        stops.push(() => https.close());
        const grpc =
          grpcPort === undefined
            ? undefined
            : await (await import('../../shared/app/api/grpc.js')).startGrpc({ api, tls, port: grpcPort, host: flags.address });
        if (grpc) stops.push(() => grpc.close());
        if (tlsRef) {
          const stopWatch = watchTlsSecret(
            defined(secrets).secrets,
            tlsRef,
            tls,
            (next) => {
              tls = next;
              https.setTls(next);
              grpc?.setTls(next);
            },
            { intervalMs: reloadMs, log: logger },
          );
          stops.push(stopWatch);
        }
        logger.info('API listening', { https: https.port, grpc: grpc?.port, tls: tls.source });
        out(
          JSON.stringify({ listening: { https: https.port, ...(grpc && { grpc: grpc.port }), address: flags.address, tls: tls.source } }),
        );

        await new Promise<void>((resolve) => {
          const done = () => resolve();
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
        logger.info('API stopping');
        await driving;
      } finally {
        await stopAll();
      }
    });
}
