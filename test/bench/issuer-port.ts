/**
 * rekey's own CA behind the Issuer port, against signing in process without it, in one run, alternating:
 *  - in process: ECDSA-P256 leaves through `newMaterial` (issuer registry, own-CA adapter) next to what `newMaterial`
 *    did before the port (`issueMaterial` with the run's parsed CA);
 *  - as a user runs it: `rekey apply` of N certificates into a fresh vault and `--out`, from this checkout next to
 *    another checkout of rekey (`--before DIR`, e.g. /work/main before the port landed), alternating.
 * Figures, not assertions; load average around each. Writes bench-results/issuer-port.json.
 * Usage: tsx test/bench/issuer-port.ts [--leaves 2000] [--rounds 5] [--before DIR] [--certs 2000] [--runs 3]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issuerRegistry } from '../../shared/adapters/issuers/registry.js';
import { FileVault } from '../../shared/adapters/local/file-vault.js';
import { newMaterial } from '../../shared/app/issuance.js';
import { MaterialReader } from '../../shared/app/materials.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { issueMaterial } from '../../shared/domain/pki/issue.js';
import { encodeMaterial } from '../../shared/domain/store/material.js';
import { specHashOf, unitsOf } from '../../shared/domain/units.js';
import { load1, machine, median, type Figure } from './figures.js';
import { syntheticInventory } from './inventory-gen.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const leaves = Number(arg('leaves') ?? 2000);
const rounds = Number(arg('rounds') ?? 5);
const before = arg('before');
const certs = Number(arg('certs') ?? 2000);
const runs = Number(arg('runs') ?? 3);

const work = mkdtempSync(join(tmpdir(), 'rekey-bench-issuer-port-'));
const inventory = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: bench-port}
authorities: [{name: ca, commonName: ca, key: ECDSA-P256}]
certificates:
  - {name: leaf, issuer: ca, usage: server, commonName: leaf.example, dnsNames: [leaf.example, leaf.ns.svc], key: ECDSA-P256, secret: {name: leaf, namespace: a}}
`);
const store = new FileVault(join(work, 'vault'), randomBytes(32));
const caUnit = unitsOf(inventory, inventory.authorities[0]!)[0]!;
await store.putCurrent(caUnit.storeName, 'v1', encodeMaterial(issueMaterial(caUnit, undefined, new Date(), specHashOf(caUnit))), {});
const leafUnit = unitsOf(inventory, inventory.certificates[0]!)[0]!;
const spec = specHashOf(leafUnit);
const deps = { clock: { now: () => new Date() }, issuers: issuerRegistry({ store, inventory: inventory.name }) };

/** Leaves per second over `leaves` issuances, one reader per round (as one apply run has). */
async function perSecond(issue: (reader: MaterialReader) => Promise<unknown>): Promise<number> {
  const reader = new MaterialReader(store, inventory);
  await issue(reader); // the CA read and parsed once, as in a run
  const start = process.hrtime.bigint();
  for (let i = 0; i < leaves; i++) await issue(reader);
  return leaves / (Number(process.hrtime.bigint() - start) / 1e9);
}

const withoutPort = (reader: MaterialReader) => reader.issuer('ca').then((ca) => issueMaterial(leafUnit, ca, new Date(), spec));
const throughPort = (reader: MaterialReader) => newMaterial(deps, leafUnit, reader);

const inProcess = { before: [] as number[], after: [] as number[], load: [load1(), 0] as [number, number] };
for (let r = 0; r < rounds; r++) {
  inProcess.before.push(await perSecond(withoutPort));
  inProcess.after.push(await perSecond(throughPort));
}
inProcess.load[1] = load1();

function applyPerSecond(checkout: string, file: string, run: number): number {
  const state = join(work, `state-${run}`);
  const out = join(work, `out-${run}`);
  const start = process.hrtime.bigint();
  const result = spawnSync(
    process.execPath,
    [join(checkout, 'bin', 'rekey.js'), 'apply', '-f', file, '--state', state, '--out', out, '--json'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, REKEY_VAULT_KEY: undefined },
    },
  );
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`rekey apply (${checkout}) exited ${String(result.status)}: ${String(result.stderr)}`);
  rmSync(state, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  return certs / s;
}

const figures: Figure[] = [
  {
    what: `own-CA leaves in process through the Issuer port (newMaterial), ECDSA-P256, ${leaves} x ${rounds} alternating`,
    value: median(inProcess.after),
    unit: 'certs/s',
    runs: inProcess.after,
    reference: { what: 'issueMaterial without the port (before)', value: median(inProcess.before) },
    ratio: median(inProcess.after) / median(inProcess.before),
    load: inProcess.load,
  },
];
let apply: { before: number[]; after: number[]; load: [number, number] } | undefined;
if (before) {
  const file = join(work, 'inventory.yaml');
  writeFileSync(file, syntheticInventory({ name: 'bench-port-apply', certificates: certs }));
  apply = { before: [], after: [], load: [load1(), 0] };
  for (let r = 0; r < runs; r++) {
    apply.before.push(applyPerSecond(before, file, 2 * r));
    apply.after.push(applyPerSecond(ROOT, file, 2 * r + 1));
  }
  apply.load[1] = load1();
  figures.push({
    what: `rekey apply of ${certs} ECDSA-P256 certificates through the Issuer port, ${runs} runs alternating`,
    value: median(apply.after),
    unit: 'certs/s',
    runs: apply.after,
    reference: { what: `rekey apply from ${before}`, value: median(apply.before) },
    ratio: median(apply.after) / median(apply.before),
    load: apply.load,
  });
}
rmSync(work, { recursive: true, force: true });

for (const f of figures)
  console.log(
    `${f.what}: ${f.value.toFixed(0)} ${f.unit} (runs ${f.runs.map((x) => x.toFixed(0)).join(', ')}); ` +
      `${f.reference?.what}: ${f.reference?.value.toFixed(0)} (runs ${(f === figures[0] ? inProcess.before : (apply?.before ?? [])).map((x) => x.toFixed(0)).join(', ')}); ` +
      `ratio ${f.ratio?.toFixed(3)}; load ${f.load[0]} -> ${f.load[1]}`,
  );
mkdirSync('bench-results', { recursive: true });
writeFileSync(
  'bench-results/issuer-port.json',
  JSON.stringify({ at: new Date().toISOString(), machine: machine(), leaves, rounds, inProcess, apply, figures }, null, 2) + '\n',
);
console.log('wrote bench-results/issuer-port.json');
