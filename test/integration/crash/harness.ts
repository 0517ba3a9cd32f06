import { spawn, spawnSync } from 'node:child_process';
import { createPublicKey, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { FileVault } from '../../../shared/adapters/local/file-vault.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { RotationStatus, type RotationRecord } from '../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../shared/domain/store/material.js';
import { Annotation } from '../../../shared/domain/sync/desired.js';
import { allUnits, specHashOf, storeNameOf, type Unit } from '../../../shared/domain/units.js';
import { dropVersionId } from '../../../shared/app/rotation/authority-steps.js';
import { Stage } from '../../../shared/ports/secret-store.js';

const CLI = fileURLToPath(new URL('../../../cli/main.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** mulberry32: a small seeded PRNG, so the sequence of choices of a failing run can be replayed. */
export function prng(seed: number): { next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)]!, chance: (p) => next() < p };
}

export const AUTHORITIES = 5;
export const CERTIFICATES = 500;
const NAMESPACES = 10;
export const INVENTORY_NAME = 'crash';

/** What a round changes to force renewals: the leaves' validity (every leaf) or one authority's (it and its leaves). */
export interface Variant {
  readonly leafValidity: string;
  readonly authorityValidity: readonly string[];
}

export const initialVariant = (): Variant => ({
  leafValidity: '2160h',
  authorityValidity: Array.from({ length: AUTHORITIES }, () => '87600h'),
});

export function flipLeaves(v: Variant): Variant {
  return { ...v, leafValidity: v.leafValidity === '2160h' ? '2159h' : '2160h' };
}

export function flipAuthority(v: Variant, index: number): Variant {
  return { ...v, authorityValidity: v.authorityValidity.map((x, i) => (i === index ? (x === '87600h' ? '87599h' : '87600h') : x)) };
}

/** 500 leaves over 5 root CAs, plus one per-replica certificate (3 units) so a rotation re-keys several units. */
export function crashInventory(v: Variant): string {
  const lines = [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    `metadata: {name: ${INVENTORY_NAME}}`,
    `defaults: {key: ECDSA-P256, validity: ${v.leafValidity}, renewBefore: 720h, restart: none}`,
    'clusters: [{name: dc1}]',
    'authorities:',
    ...v.authorityValidity.map((validity, a) => `  - {name: ca-${a}, commonName: ca-${a}, key: ECDSA-P256, validity: ${validity}}`),
    'certificates:',
    `  - {name: pool, issuer: ca-0, usage: server, commonName: pool, perReplica: {statefulSet: pool, replicas: 3}, secret: {name: pool-tls, namespace: ns-0}}`,
  ];
  for (let i = 0; i < CERTIFICATES; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    lines.push(
      `  - {name: svc-${i}, issuer: ca-${i % AUTHORITIES}, usage: server, commonName: svc-${i}, dnsNames: [svc-${i}, svc-${i}.${ns}.svc], secret: {name: svc-${i}-tls, namespace: ${ns}}}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** A state folder, an output folder and an inventory file, driven through real `rekey` processes. */
export class CrashBench {
  readonly state: string;
  readonly out: string;
  readonly file: string;
  readonly key = randomBytes(32);
  variant = initialVariant();
  inventory: Inventory;

  constructor(readonly root: string) {
    this.state = join(root, 'state');
    this.out = join(root, 'out');
    this.file = join(root, 'inventory.yaml');
    this.inventory = this.setVariant(this.variant);
  }

  setVariant(v: Variant): Inventory {
    this.variant = v;
    const text = crashInventory(v);
    writeFileSync(this.file, text);
    this.inventory = loadInventory(text);
    return this.inventory;
  }

  argv(command: 'apply' | 'recover' | { rotate: string }): string[] {
    const verb = typeof command === 'string' ? [command] : ['rotate', command.rotate];
    return ['--state', this.state, ...verb, '-f', this.file, '--out', this.out];
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, REKEY_VAULT_KEY: this.key.toString('hex'), NO_COLOR: '1' };
  }

  /** Runs one command to its end. */
  run(command: Parameters<CrashBench['argv']>[0]): Promise<RunResult> {
    return this.spawnKillable(command, undefined);
  }

  /**
   * Starts a command and SIGKILLs it when `killWhen` says so (it is polled with the number of event lines the
   * process has appended and the milliseconds since it started). Resolves when the process is gone.
   */
  spawnKillable(
    command: Parameters<CrashBench['argv']>[0],
    killWhen: ((p: { events: number; ms: number }) => boolean) | undefined,
  ): Promise<RunResult> {
    const eventsFile = join(this.state, 'events.jsonl');
    const baseline = existsSync(eventsFile) ? statSync(eventsFile).size : 0;
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...this.argv(command)], {
        cwd: REPO,
        env: this.env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let firstEventMs: number | undefined;
      let eventsAtKill: number | undefined;
      let sentKill = false;
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
      let poll: NodeJS.Timeout | undefined;
      const tick = () => {
        const events = countLinesSince(eventsFile, baseline);
        const ms = Date.now() - started;
        if (events > 0 && firstEventMs === undefined) firstEventMs = ms;
        if (killWhen && !sentKill && killWhen({ events, ms })) {
          sentKill = true;
          eventsAtKill = events;
          child.kill('SIGKILL');
          return;
        }
        poll = setTimeout(tick, 2);
      };
      if (killWhen) tick();
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (poll) clearTimeout(poll);
        const killed = signal === 'SIGKILL';
        resolve({
          code,
          killed,
          stdout,
          stderr,
          ms: Date.now() - started,
          ...(firstEventMs !== undefined && { firstEventMs }),
          ...(killed && eventsAtKill !== undefined && { eventsAtKill }),
        });
      });
    });
  }

  /** Every journal record, parsed from its file. */
  records(): RotationRecord[] {
    const dir = join(this.state, 'journal');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as RotationRecord);
  }

  /** Item lock files left in the journal (a lock is a file per item while its rotation runs). */
  itemLocks(): string[] {
    const dir = join(this.state, 'journal', 'locks');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  vault(): FileVault {
    return new FileVault(join(this.state, 'vault'), this.key);
  }

  manifestOf(unit: Unit): { version: string; crt: string; key: string; ca: string } | undefined {
    const path = join(this.out, 'dc1', unit.item.secret!.namespace, `${unit.secretName}.yaml`);
    if (!existsSync(path)) return undefined;
    const m = load(readFileSync(path, 'utf8')) as { metadata: { annotations: Record<string, string> }; data: Record<string, string> };
    const b = (k: string) => Buffer.from(m.data[k] ?? '', 'base64').toString('utf8');
    return { version: m.metadata.annotations[Annotation.Version]!, crt: b('tls.crt'), key: b('tls.key'), ca: b('ca.crt') };
  }

  /** Event lines that do not parse (a write torn by the kill). */
  tornEventLines(): number {
    const file = join(this.state, 'events.jsonl');
    if (!existsSync(file)) return 0;
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .filter((l) => {
        try {
          JSON.parse(l);
          return false;
        } catch {
          return true;
        }
      }).length;
  }
}

export interface RunResult {
  readonly code: number | null;
  readonly killed: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** When the process appended its first event (it had started working). */
  readonly firstEventMs?: number;
  /** Event lines the process had appended when the kill was sent (0: still starting, locking or recovering). */
  readonly eventsAtKill?: number;
}

function countLinesSince(file: string, offset: number): number {
  if (!existsSync(file)) return 0;
  const size = statSync(file).size;
  if (size <= offset) return 0;
  const buf = Buffer.alloc(size - offset);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
  let n = 0;
  for (const byte of buf) if (byte === 0x0a) n++;
  return n;
}

/** Current version id of every unit: what must not be lost by the next kill. */
export async function currentVersions(bench: CrashBench): Promise<Map<string, string>> {
  const vault = bench.vault();
  const out = new Map<string, string>();
  for (const unit of allUnits(bench.inventory)) {
    const v = await vault.getVersion(unit.storeName, { stage: Stage.Current });
    if (v) out.set(unit.storeName, v.versionId);
  }
  return out;
}

function latestPerUnit(records: readonly RotationRecord[]): RotationRecord[] {
  const latest = new Map<string, RotationRecord>();
  for (const r of records) for (const u of r.units) if ((latest.get(u)?.startedAt ?? '') < r.startedAt) latest.set(u, r);
  return [...new Set(latest.values())];
}

/**
 * Everything that must hold after a re-run, as a list of violations (empty: all good). `before` holds the
 * current versions before the round, `knownRotations` the ids of records seen before it.
 */
export async function violations(
  bench: CrashBench,
  before: ReadonlyMap<string, string>,
  knownRotations: ReadonlySet<string>,
): Promise<string[]> {
  const problems: string[] = [];
  const vault = bench.vault();
  const inventory = bench.inventory;
  const records = bench.records();

  // The journal: nothing left running, no rotation failed, no item lock left.
  for (const r of records) {
    if (r.status === RotationStatus.Running) problems.push(`rotation ${r.id} of ${r.item} still running (step ${r.step})`);
    else if (r.status !== RotationStatus.Completed) problems.push(`rotation ${r.id} of ${r.item} ended ${r.status}: ${r.error ?? ''}`);
  }
  for (const lock of bench.itemLocks()) problems.push(`item lock left: ${lock}`);

  // The vault, unit by unit.
  const materials = new Map<string, CertificateMaterial>();
  for (const unit of allUnits(inventory)) {
    const d = await vault.describe(unit.storeName);
    if (!d) {
      problems.push(`${unit.key}: not in the vault`);
      continue;
    }
    const current = d.versions.filter((v) => v.stages.includes(Stage.Current));
    const pending = d.versions.filter((v) => v.stages.includes(Stage.Pending));
    if (current.length !== 1) problems.push(`${unit.key}: ${current.length} current versions`);
    if (pending.length) problems.push(`${unit.key}: pending version(s) left: ${pending.map((p) => p.versionId).join(', ')}`);
    if (d.versions.filter((v) => v.stages.includes(Stage.Previous)).length > 1)
      problems.push(`${unit.key}: more than one previous version`);
    // An authority rotation stores its CA twice by design: `<id>` (old CA still trusted beside it) and `<id>-drop`.
    const fingerprints = new Map<string, string>();
    for (const v of d.versions) {
      const m = decodeMaterial(
        (await vault.getVersion(unit.storeName, { versionId: v.versionId }))!.value,
        unit.storeName,
      ) as CertificateMaterial;
      const seen = fingerprints.get(m.fingerprint);
      if (seen !== undefined && dropVersionId(seen) !== v.versionId)
        problems.push(`${unit.key}: certificate ${m.fingerprint.slice(0, 12)} stored twice`);
      fingerprints.set(m.fingerprint, v.versionId);
      if (v.stages.includes(Stage.Current)) materials.set(unit.storeName, m);
    }
    const was = before.get(unit.storeName);
    if (was && !d.versions.some((v) => v.versionId === was)) problems.push(`${unit.key}: version ${was}, current before the kill, is gone`);
  }

  // Rotations of this round (or, when none are known, each unit's latest: the vault keeps ten unlabelled versions,
  // so older rotations' versions may be pruned): their versions and the ones they replaced are in the vault.
  const checked = knownRotations.size ? records.filter((x) => !knownRotations.has(x.id)) : latestPerUnit(records);
  for (const r of checked) {
    for (const unit of r.units) {
      const d = await vault.describe(unit);
      if (!d?.versions.some((v) => v.versionId === r.id)) problems.push(`rotation ${r.id}: its version of ${unit} is missing`);
      const prev = r.previousVersions[unit];
      if (prev && !d?.versions.some((v) => v.versionId === prev))
        problems.push(`rotation ${r.id}: the version it replaced in ${unit} is missing`);
    }
  }

  // Every unit is up to date with the inventory (the re-run finished the job) and its manifest holds its current version.
  for (const unit of allUnits(inventory)) {
    const m = materials.get(unit.storeName);
    if (!m) continue;
    if (m.specHash !== specHashOf(unit)) problems.push(`${unit.key}: current version was issued for another spec`);
    if (unit.item.kind === 'certificate') {
      const issuer = materials.get(storeNameOf(inventory.name, unit.item.issuer));
      if (issuer && m.issuerFingerprint !== issuer.fingerprint)
        problems.push(`${unit.key}: current version signed by an older ${unit.item.issuer}`);
      const manifest = bench.manifestOf(unit);
      const current = (await vault.describe(unit.storeName))!.versions.find((v) => v.stages.includes(Stage.Current))!;
      if (!manifest) problems.push(`${unit.key}: no manifest`);
      else if (manifest.version !== current.versionId)
        problems.push(`${unit.key}: manifest holds ${manifest.version}, vault current is ${current.versionId}`);
    }
  }
  return problems;
}

/**
 * `openssl verify` of the leaf in each unit's manifest against the manifest's own `ca.crt` (intermediates from
 * `tls.crt` as untrusted), plus a key-match check. Returns the failures.
 */
export function verifyCertificates(bench: CrashBench, units: readonly Unit[], tmp: string): string[] {
  const failures: string[] = [];
  // One openssl call per trust bundle: verify takes many certificates at once.
  const byCa = new Map<string, { unit: Unit; leaf: string }[]>();
  for (const unit of units) {
    const m = bench.manifestOf(unit);
    if (!m) {
      failures.push(`${unit.key}: no manifest`);
      continue;
    }
    const certs = m.crt.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
    if (!certs.length) {
      failures.push(`${unit.key}: no certificate in tls.crt`);
      continue;
    }
    if (
      createPublicKey(certs[0]!).export({ type: 'spki', format: 'pem' }) !== createPublicKey(m.key).export({ type: 'spki', format: 'pem' })
    ) {
      failures.push(`${unit.key}: tls.key does not match the certificate`);
    }
    const untrusted = certs.slice(1).join('');
    const group = `${m.ca}\u0000${untrusted}`;
    const list = byCa.get(group) ?? [];
    list.push({ unit, leaf: certs[0]! });
    byCa.set(group, list);
  }
  let n = 0;
  for (const [group, leaves] of byCa) {
    const [ca, untrusted] = group.split('\u0000') as [string, string];
    const caFile = join(tmp, `ca-${n}.pem`);
    const untrustedFile = join(tmp, `untrusted-${n++}.pem`);
    writeFileSync(caFile, ca);
    if (untrusted) writeFileSync(untrustedFile, untrusted);
    const files = leaves.map(({ unit, leaf }, i) => {
      const f = join(tmp, `leaf-${n}-${i}.pem`);
      writeFileSync(f, leaf);
      return { unit, f };
    });
    const r = spawnSync(
      'openssl',
      ['verify', '-CAfile', caFile, ...(untrusted ? ['-untrusted', untrustedFile] : []), ...files.map((x) => x.f)],
      { encoding: 'utf8' },
    );
    for (const { unit, f } of files)
      if (!r.stdout.includes(`${f}: OK`))
        failures.push(
          `${unit.key}: openssl verify failed: ${(r.stdout + r.stderr).split('\n').find((l) => l.includes(f) || l.startsWith('error')) ?? r.stderr}`,
        );
  }
  return failures;
}
