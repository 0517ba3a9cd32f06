import type { ApplyResult } from '../shared/app/apply.js';
import type { Plan } from '../shared/app/plan.js';
import type { UnitStatus } from '../shared/app/status.js';
import type { Inventory } from '../shared/domain/inventory/model.js';
import { allUnits } from '../shared/domain/units.js';
import { defined } from '../shared/domain/defined.js';

/** Text tables for the terminal. No key material ever passes through here. */

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(defined(widths[i]))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const LIST_LIMIT = 40;
function limited<T>(rows: readonly T[]): { shown: readonly T[]; more: string } {
  return rows.length > LIST_LIMIT
    ? { shown: rows.slice(0, LIST_LIMIT), more: `\n  ... and ${rows.length - LIST_LIMIT} more (use --json for all)` }
    : { shown: rows, more: '' };
}

export function describeInventory(inv: Inventory): string {
  const units = allUnits(inv).length;
  return `${inv.authorities.length} authorities, ${inv.certificates.length} certificates, ${inv.credentials.length} credentials (${units} versioned units), clusters: ${inv.clusters.map((c) => c.name).join(', ')}`;
}

export function formatPlan(p: Plan): string {
  const lines: string[] = [];
  if (p.actions.length === 0) lines.push(`inventory ${p.inventory}: nothing to do`);
  else {
    const { shown, more } = limited(p.actions);
    lines.push(`inventory ${p.inventory}: ${p.actions.length} action(s)`);
    lines.push(
      table(
        shown.map((a) => [
          '  ' + a.action,
          a.kind,
          a.name,
          a.cluster ? `${a.cluster}:${a.namespace}/${a.secret}` : (a.path ?? a.command ?? ''),
          a.reason,
        ]),
      ) + more,
    );
  }
  // The map in full is in --json; the text shows the items whose consumers differ between clusters.
  const split = p.consumers.filter((c) => c.perCluster);
  if (split.length) {
    lines.push('consumers per cluster:');
    lines.push(table(split.map((c) => ['  ' + c.item, c.cluster, c.consumers.join(', ') || '(none)'])));
  }
  for (const w of p.warnings) lines.push(`warning: ${w.name}${w.cluster ? ` [${w.cluster}]` : ''}: ${w.message}`);
  return lines.join('\n');
}

export function formatApply(r: ApplyResult, targetLabel: string, ms: number): string {
  const lines: string[] = [];
  const issued = r.decisions.filter((d) => d.action !== 'skip');
  const { shown, more } = limited(issued);
  lines.push(`inventory ${r.inventory}: ${issued.length} version(s) made`);
  if (shown.length) lines.push(table(shown.map((d) => ['  ' + d.action, d.kind, d.unit, d.reason])) + more);
  for (const d of r.decisions.filter((x) => x.action === 'skip')) lines.push(`  skipped ${d.unit}: ${d.reason}`);
  for (const c of r.chainChanges)
    lines.push(`  rotate authority ${c.authority} with trust overlap (rotation ${c.rotationId}): ${c.reason}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  const count = (c: string) => r.sync.secrets.filter((s) => s.change === c).length;
  lines.push(`secrets -> ${targetLabel}: ${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged`);
  for (const f of r.sync.files)
    if (f.written.length) lines.push(`files -> ${f.dir}: ${f.written.join(', ')}${f.reloaded ? ' (reloaded)' : ''}`);
  for (const f of r.sync.files)
    if (f.chmodded.length) lines.push(`modes -> ${f.dir}: ${f.chmodded.join(', ')} set back to the inventory's mode`);
  for (const o of r.sync.reloads) if (o.reason === 'ReloadOwed' && o.result === 'succeeded') lines.push(`owed reload done: ${o.command}`);
  for (const p of r.problems) lines.push(p.startsWith('reload owed') ? p : `not written: ${p}`);
  lines.push(`done in ${(ms / 1000).toFixed(1)}s`);
  return lines.join('\n');
}

export function formatStatus(rows: readonly UnitStatus[]): string {
  const owed = new Map(rows.flatMap((r) => (r.reloadOwed ? [[r.reloadOwed.command, r.reloadOwed] as const] : [])));
  const notes = [...owed.values()].map(
    (o) =>
      `\nreload owed since ${o.since.slice(0, 19)}Z (${o.attempts} failed run(s)): ${o.command}${o.lastError ? `\n  last: ${o.lastError}` : ''}`,
  );
  return (
    table([
      ['NAME', 'KIND', 'VERSION', 'NOT AFTER', 'SERIAL', 'ROTATION'],
      ...rows.map((r) => [
        r.name,
        r.kind,
        r.version ? r.version.slice(0, 12) : '-',
        r.notAfter ? r.notAfter.slice(0, 19) + 'Z' : '-',
        r.serial ? r.serial.slice(0, 12) : '-',
        r.rotation
          ? `${r.rotation.status} (${r.rotation.step}, ${r.rotation.updatedAt.slice(0, 19)}Z)${r.rotation.error ? `: ${r.rotation.error}` : ''}`
          : '-',
      ]),
    ]) + notes.join('')
  );
}
