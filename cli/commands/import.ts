import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { dump } from 'js-yaml';
import { buildImport, importFiles, readClusters, storeAuthorities } from '../../shared/app/import/index.js';
import { UsageError } from '../../shared/domain/errors.js';
import { validateInventory } from '../../shared/domain/inventory/load.js';
import { composeLocal } from '../compose.js';
import { out, printJson, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';
import { defined } from '../../shared/domain/defined.js';

interface ImportOptions {
  kubeconfig?: string;
  context: string[];
  namespace: string[];
  output?: string;
  inventoryName: string;
  clusterResourceNamespace: string;
  files?: string;
  name?: string;
  file?: string;
  cert?: string;
  key?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The first file of `names` that exists in `dir`. */
function pick(dir: string, given: string | undefined, names: readonly string[]): string | undefined {
  if (given) return resolve(dir, given);
  return names.map((n) => join(dir, n)).find((p) => existsSync(p));
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

async function fromFiles(o: ImportOptions, ctx: CliContext): Promise<void> {
  if (!o.name || !o.file) throw new UsageError('import --files DIR needs --name ITEM and -f INVENTORY');
  const dir = resolve(defined(o.files));
  const certPath = pick(dir, o.cert, ['tls.crt', 'server.crt']);
  const keyPath = pick(dir, o.key, ['tls.key', 'server.key']);
  if (!certPath || !keyPath)
    throw new UsageError(`${dir}: no certificate and key (tls.crt/tls.key or server.crt/server.key; or give --cert and --key)`);
  const caPath = pick(dir, undefined, ['ca.crt']);
  const inv = readInventory(o.file);
  const files = {
    cert: readText(certPath, 'certificate'),
    key: readText(keyPath, 'key'),
    ...(caPath && { ca: readText(caPath, 'CA bundle') }),
  };
  const runtime = await composeLocal(inv, { stateDir: ctx.globals().state, target: { kind: 'none' }, log: ctx.log });
  try {
    const outcome = await importFiles(runtime.deps, inv, o.name, files);
    if (ctx.globals().json) printJson({ item: o.name, outcome, cert: certPath });
    else
      out(
        outcome === 'stored' ? `${o.name}: ${certPath} stored as the first version` : `${o.name} already has a version: nothing imported`,
      );
  } finally {
    await runtime.close();
  }
}

async function fromClusters(o: ImportOptions, ctx: CliContext): Promise<void> {
  const kube = await import('../../shared/adapters/kube/import-reader.js');
  const kubeconfig = o.kubeconfig && resolve(o.kubeconfig);
  if (kubeconfig && !existsSync(kubeconfig)) throw new UsageError(`--kubeconfig ${o.kubeconfig}: no such file`);
  const sources = kube.connectImportSources({ ...(kubeconfig && { kubeconfig }), contexts: o.context, log: ctx.log });
  const snapshots = await readClusters(sources, {
    ...(o.namespace.length && { namespaces: o.namespace }),
    clusterResourceNamespace: o.clusterResourceNamespace,
  });
  const plan = buildImport(snapshots, { name: o.inventoryName, clusterResourceNamespace: o.clusterResourceNamespace, now: new Date() });
  // The document is checked like any inventory: an import that would not load is a bug to report, not to write.
  const inventory = validateInventory(plan.document, 'the imported inventory');
  const runtime = await composeLocal(inventory, { stateDir: ctx.globals().state, target: { kind: 'none' }, log: ctx.log });
  let stored;
  try {
    stored = await storeAuthorities(runtime.deps, inventory, plan.authorities);
  } finally {
    await runtime.close();
  }
  const header = [
    '# Imported by `rekey import` from ' +
      snapshots.map((s) => `${s.cluster}${s.certManagerInstalled ? '' : ' (no cert-manager)'}`).join(', ') +
      '.',
    '# adopt: true keeps each existing Secret as it is until its first rotation; authorities hold the imported CA keys.',
    ...plan.notImportable.map(
      (n) => `# not imported: ${n.cluster} ${n.kind} ${n.namespace ? `${n.namespace}/` : ''}${n.name}: ${n.reason}`,
    ),
    ...plan.notes.map((n) => `# note: ${n}`),
  ].join('\n');
  const yaml = `${header}\n${dump(plan.document, { lineWidth: 160, noRefs: true })}`;
  if (o.output) await writeAtomically(resolve(o.output), yaml);
  if (ctx.globals().json) {
    printJson({
      inventory: plan.document,
      notImportable: plan.notImportable,
      notes: plan.notes,
      authorities: stored,
      ...(o.output && { file: resolve(o.output) }),
    });
    return;
  }
  if (!o.output) out(yaml);
  const log = (s: string) => process.stderr.write(s + '\n');
  log(
    `imported ${inventory.authorities.length} authorities (${stored.filter((s) => s.outcome === 'stored').length} stored with their keys in ${ctx.globals().state}), ${inventory.certificates.length} certificates${o.output ? ` -> ${resolve(o.output)}` : ''}`,
  );
  for (const n of plan.notImportable)
    log(`not imported: ${n.cluster} ${n.kind} ${n.namespace ? `${n.namespace}/` : ''}${n.name}: ${n.reason}`);
  for (const n of plan.notes) log(`note: ${n}`);
}

export function registerImport(cli: Command, ctx: CliContext): void {
  cli
    .command('import')
    .description(
      'an inventory from what clusters hold (cert-manager objects, TLS Secrets, the workloads mounting them); or a certificate and key from files',
    )
    .option('--kubeconfig <file>', 'kubeconfig to read the clusters from (default: KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'a kubeconfig context to import (repeat for several; default: the current one)', collect, [])
    .option('-n, --namespace <name>', 'only this namespace (repeat for several; default: all)', collect, [])
    .option('-o, --output <file>', 'write the inventory here instead of stdout')
    .option('--inventory-name <name>', 'metadata.name of the inventory (store names are rekey/<name>/<item>)', 'imported')
    .option('--cluster-resource-namespace <ns>', "where cert-manager keeps ClusterIssuers' Secrets", 'cert-manager')
    .option('--files <dir>', 'import a certificate and key from this folder (tls.crt/tls.key or server.crt/server.key)')
    .option('--name <item>', 'with --files: the certificate item they become the first version of')
    .option('-f, --file <inventory>', 'with --files: the inventory naming the item')
    .option('--cert <file>', 'with --files: the certificate file, if not tls.crt or server.crt')
    .option('--key <file>', 'with --files: the key file, if not tls.key or server.key')
    .action(async (o: ImportOptions) => {
      if (o.files) await fromFiles(o, ctx);
      else await fromClusters(o, ctx);
    });
}
