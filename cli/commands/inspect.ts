import type { Command } from 'commander';
import { listEnrolled } from '../../shared/app/enrol-revocation.js';
import { inspectItem, type Inspection } from '../../shared/app/inspect.js';
import type { EnrolmentRecord } from '../../shared/domain/enrol/record.js';
import { composeStore } from '../backend.js';
import { targetFrom } from '../compose.js';
import { out, printJson, type CliContext } from '../context.js';
import { readInventory } from '../inventory-file.js';

const DAY_MS = 86_400_000;

function daysLeft(notAfter: string, now: Date): string {
  const days = Math.floor((Date.parse(notAfter) - now.getTime()) / DAY_MS);
  return days < 0 ? `expired ${-days} day(s) ago` : `${days} day(s) left`;
}

const ms = (n: number | undefined): string => (n === undefined ? '' : n < 1000 ? `${n}ms` : `${(n / 1000).toFixed(1)}s`);

/** The text view of `inspect`: sections like cmctl's, one line per fact. Never key material. */
export function formatInspection(i: Inspection, now: Date): string {
  const lines: string[] = [`${i.kind} ${i.item} (inventory ${i.inventory})`];
  if (i.issuer) lines.push(`  issuer: ${i.issuer}, usage: ${i.usage}`);
  if (i.parent) lines.push(`  parent: ${i.parent}`);
  lines.push(`  restart: ${i.restart}`);
  for (const u of i.units) {
    lines.push('', `${u.unit}  (store ${u.storeName})`);
    const c = u.certificate;
    if (c) {
      lines.push('  Certificate:');
      lines.push(`    Subject:      ${c.subject}`);
      lines.push(`    Issuer:       ${c.issuer}${c.selfSigned ? ' (self-signed)' : ''}`);
      if (c.dnsNames.length) lines.push(`    DNS names:    ${c.dnsNames.join(', ')}`);
      if (c.ipAddresses.length) lines.push(`    IP addresses: ${c.ipAddresses.join(', ')}`);
      if (c.uris.length) lines.push(`    URIs:         ${c.uris.join(', ')}`);
      lines.push(`    Key:          ${c.keyType}${c.isCA ? ', CA' : ''}${c.extKeyUsage.length ? `, ${c.extKeyUsage.join(' ')}` : ''}`);
      lines.push(`    Not before:   ${c.notBefore}`);
      lines.push(`    Not after:    ${c.notAfter} (${daysLeft(c.notAfter, now)})`);
      lines.push(`    Serial:       ${c.serial}`);
      lines.push(`    SHA-256:      ${c.fingerprint}`);
      if (u.adopted) lines.push('    Adopted from an existing Secret');
    }
    if (u.chain) {
      lines.push(
        `  Chain: ${u.chain.links.length ? u.chain.links.map((l) => l.subject).join(' -> ') + ' -> ' : ''}ends at ${u.chain.endsAt} (${u.chain.end})`,
      );
    }
    if (u.credential) {
      const cr = u.credential;
      lines.push(
        `  Credential: ${cr.type}, created ${cr.createdAt}${cr.login ? `, login ${cr.login}` : ''}${cr.kid ? `, kid ${cr.kid} (${cr.alg}), key set: ${cr.keySet?.join(', ')}` : ''}`,
      );
    }
    lines.push('  Versions:');
    if (!u.versions.length) lines.push('    none (not issued yet)');
    for (const v of u.versions) lines.push(`    ${v.versionId}  ${v.createdAt}  ${v.stages.join(',') || '-'}`);
  }
  lines.push('', 'Synced to:');
  if (!i.synced.length && !i.files) lines.push('  nowhere');
  for (const p of i.synced)
    lines.push(
      `  ${p.cluster}/${p.namespace}/${p.secret}: ${p.state}${p.version ? ` (version ${p.version})` : ''}${p.error ? ` ${p.error}` : ''}`,
    );
  if (i.files) lines.push(`  host files: ${i.files.dir}/${i.files.cert}`);
  lines.push('', `Consumers: ${i.consumers.join(', ') || 'none listed'}`);
  for (const f of i.foundConsumers ?? [])
    lines.push(`  ${f.cluster}: ${f.workload} uses ${f.secret} via ${f.via}${f.listed ? '' : ' (NOT LISTED: would miss restarts)'}`);
  const r = i.lastRotation;
  lines.push(
    '',
    r
      ? `Last rotation: ${r.id} ${r.status} (${r.trigger}: ${r.reason}), started ${r.startedAt}${r.finishedAt ? `, finished ${r.finishedAt}` : `, at step ${r.step}`}`
      : 'Last rotation: none',
  );
  if (r?.error) lines.push(`  error: ${r.error}`);
  for (const s of r?.steps ?? [])
    lines.push(`  ${s.step.padEnd(18)} ${s.status.padEnd(9)} ${s.at} ${ms(s.durationMs)}${s.attempt > 1 ? ` attempt ${s.attempt}` : ''}`);
  return lines.join('\n');
}

/** The text view of an enrolment profile's certificates: one line each, revoked ones marked. */
export function formatEnrolled(profile: string, records: readonly Omit<EnrolmentRecord, 'certificate' | 'type'>[], now: Date): string {
  const lines = [`enrolment profile ${profile}: ${records.length} certificate(s)`];
  for (const r of records) {
    const state = r.revoked ? `REVOKED ${r.revoked.at} (${r.revoked.reason}, by ${r.revoked.by})` : daysLeft(r.notAfter, now);
    lines.push(
      `  ${r.serial}  ${r.names.join(',')}  requester ${r.requester}  issued ${r.at}${r.renewedFrom ? ` (renewed from ${r.renewedFrom})` : ''}  ${state}`,
    );
  }
  return lines.join('\n');
}

export function registerInspect(cli: Command, ctx: CliContext): void {
  cli
    .command('inspect')
    .description('one item: decoded certificate, chain, versions and stages, where it is synced, consumers, last rotation')
    .argument('<name>', 'authority, certificate or credential; or an enrolment profile (its enrolled certificates)')
    .requiredOption('-f, --file <inventory>', 'inventory (YAML or JSON)')
    .option('--out <dir>', 'read the Secrets rendered by apply --out')
    .option('--kubeconfig <file>', 'read the Secrets (and the workloads using them) in the clusters')
    .action(async (name: string, o: { file: string; out?: string; kubeconfig?: string }) => {
      const inv = readInventory(o.file);
      const { deps } = await composeStore(ctx, inv, {
        target: () => targetFrom(o, 'none'),
        readOnly: true,
        flags: o,
        clusters: 'optional',
      });
      if (!inv.items.has(name) && inv.enrol?.some((p) => p.name === name)) {
        // An enrolment profile: the certificates enrolled under it, with their revocation.
        const records = await listEnrolled(deps, inv.name, name);
        const shown = records.map(({ certificate: _c, type: _t, ...r }) => r);
        if (ctx.globals().json) printJson({ profile: name, certificates: shown });
        else out(formatEnrolled(name, shown, deps.clock.now()));
        return;
      }
      const result = await inspectItem(deps, inv, name);
      if (ctx.globals().json) printJson(result);
      else out(formatInspection(result, deps.clock.now()));
    });
}
