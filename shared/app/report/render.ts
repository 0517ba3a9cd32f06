import type { FoundConsumer } from './consumers.js';
import { chunks, esc, formatDuration, join, shortDate, shortTime } from './html.js';
import { URGENCY_ORDER, Urgency, type ReportData, type ReportRotation, type ReportUnit } from './model.js';
import { PlacementState, type Placement } from './placements.js';
import { STYLES } from './styles.js';
import { expiryHistogram, urgentBars } from './timeline.js';
import { defined } from '../../domain/defined.js';

/** Rows per group before a group splits into closed sub-groups: keeps 10,000 items from being laid out at once. */
export const GROUP_ROWS = 500;
/** Leaves listed open under an authority up to this many; more are behind a closed <details>. */
const OPEN_LEAVES = 20;

const URGENCY_TEXT: Readonly<Record<Urgency, string>> = {
  [Urgency.Expired]: 'Expired',
  [Urgency.Due]: 'Due for renewal',
  [Urgency.Soon]: 'Renewal window opens within 30 days',
  [Urgency.Ok]: 'Fine',
  [Urgency.NotIssued]: 'Not issued',
};

function badge(u: ReportUnit): string {
  const text =
    u.urgency === Urgency.NotIssued
      ? 'not issued'
      : u.daysLeft === undefined
        ? u.urgency
        : u.daysLeft < 0
          ? `expired ${-u.daysLeft} d ago`
          : `${u.daysLeft} d left`;
  return `<span class="badge u-${u.urgency}">${esc(text)}</span>`;
}

/** A table split into closed sub-groups of GROUP_ROWS rows when long. */
function groupedTable(head: string, rows: readonly string[], caption: string): string {
  const table = (part: readonly string[]) => `<table><thead><tr>${head}</tr></thead><tbody>${part.join('')}</tbody></table>`;
  if (rows.length <= GROUP_ROWS) return table(rows);
  return chunks(rows, GROUP_ROWS)
    .map(
      (part, i) =>
        `<details${i === 0 ? ' open' : ''}><summary>${esc(caption)} ${i * GROUP_ROWS + 1}–${i * GROUP_ROWS + part.length}</summary>${table(part)}</details>`,
    )
    .join('');
}

function summary(d: ReportData): string {
  const count = (u: Urgency) => d.units.filter((x) => x.urgency === u).length;
  const kinds = (k: ReportUnit['kind']) => new Set(d.units.filter((u) => u.kind === k).map((u) => u.item)).size;
  const drift = driftRows(d).length;
  const cards: [string, string, number][] = [
    ['authorities', 'Authorities', kinds('authority')],
    ['certificates', 'Certificates', kinds('certificate')],
    ['credentials', 'Credentials', kinds('credential')],
    ['units', 'Versioned units', d.units.length],
    ['expired', 'Expired', count(Urgency.Expired)],
    ['due', 'Due for renewal', count(Urgency.Due)],
    ['soon', 'Due within 30 days', count(Urgency.Soon)],
    ['rotating', 'Rotations in flight', d.rotations.filter((r) => r.status === 'running').length],
    ['drift', 'Drift', drift],
  ];
  return `<dl class="cards" id="summary">${cards.map(([id, label, n]) => `<div><dt>${label}</dt><dd id="count-${id}">${n}</dd></div>`).join('')}</dl>`;
}

function pkiTree(d: ReportData): string {
  const authorities = d.units.filter((u) => u.kind === 'authority');
  const children = new Map<string, ReportUnit[]>();
  for (const u of d.units) {
    if (u.kind === 'credential' || !u.signedBy) continue;
    let list = children.get(u.signedBy);
    if (!list) children.set(u.signedBy, (list = []));
    list.push(u);
  }
  const node = (a: ReportUnit): string => {
    const below = children.get(a.item) ?? [];
    const subs = below.filter((u) => u.kind === 'authority').sort((x, y) => x.key.localeCompare(y.key));
    const leaves = below.filter((u) => u.kind === 'certificate').sort((x, y) => x.key.localeCompare(y.key));
    const leafList = leaves.length
      ? `<details${leaves.length <= OPEN_LEAVES ? ' open' : ''}><summary>${leaves.length} certificate${leaves.length === 1 ? '' : 's'}</summary><ul class="leaves">${leaves
          .map((l) => `<li>${esc(l.key)} <span class="tag">${esc(l.keyType)}</span> ${badge(l)}</li>`)
          .join('')}</ul></details>`
      : '';
    return `<li data-authority="${esc(a.item)}"><span class="node"><strong>${esc(a.item)}</strong> <span class="muted">${esc(a.commonName)}</span> <span class="tag">${esc(a.keyType)}</span> ${badge(a)}${a.rotating ? ' <span class="tag warn">rotating</span>' : ''}</span>${subs.length ? `<ul>${subs.map(node).join('')}</ul>` : ''}${leafList}</li>`;
  };
  const roots = authorities.filter((a) => !a.signedBy).sort((x, y) => x.key.localeCompare(y.key));
  const credentials = d.units.filter((u) => u.kind === 'credential');
  return join([
    roots.length ? `<ul class="tree">${roots.map(node).join('')}</ul>` : '<p class="muted">No authorities in this inventory.</p>',
    credentials.length > 0 &&
      `<h3>Credentials</h3><ul class="leaves">${credentials.map((c) => `<li>${esc(c.key)} <span class="tag">${esc(c.keyType)}</span> ${c.version ? `<span class="muted">since ${esc(shortDate(c.notBefore))}</span>` : badge(c)}</li>`).join('')}</ul>`,
  ]);
}

function unitRow(u: ReportUnit): string {
  return `<tr><td>${esc(u.key)}</td><td>${esc(u.kind)}</td><td>${esc(u.signedBy ?? '')}</td><td>${esc(u.keyType)}</td><td>${esc(shortTime(u.notAfter))}</td><td class="num">${badge(u)}</td><td>${esc(shortTime(u.renewAt))}</td><td>${u.rotating ? `<span class="tag warn">${esc(u.rotating.step)}</span>` : ''}${u.adopted ? ' <span class="tag">adopted</span>' : ''}</td></tr>`;
}

function timeline(d: ReportData): string {
  const now = new Date(d.generatedAt);
  const head =
    '<th scope="col">Unit</th><th scope="col">Kind</th><th scope="col">Signed by</th><th scope="col">Key</th><th scope="col">Not after (UTC)</th><th scope="col" class="num">Left</th><th scope="col">Renewal window opens</th><th scope="col">Rotation</th>';
  const groups = URGENCY_ORDER.map((urgency) => {
    const units = d.units.filter((u) => u.urgency === urgency);
    if (!units.length) return '';
    const open = urgency === Urgency.Expired || urgency === Urgency.Due || urgency === Urgency.Soon;
    return `<details class="group" data-urgency="${urgency}"${open ? ' open' : ''}><summary><span class="badge u-${urgency}">${esc(URGENCY_TEXT[urgency])}</span> <strong>${units.length}</strong></summary>${groupedTable(head, units.map(unitRow), 'units')}</details>`;
  });
  return join([
    `<div class="legend" aria-hidden="true">${URGENCY_ORDER.map((u) => `<span class="badge u-${u}">${esc(URGENCY_TEXT[u])}</span>`).join('')}</div>`,
    `<h3>Expiries per week</h3>${expiryHistogram(d.units, now)}`,
    `<h3>Most urgent</h3>${urgentBars(d.units, now)}`,
    `<h3>Every unit by urgency</h3>${groups.join('')}`,
  ]);
}

function consumerCell(found: readonly FoundConsumer[]): string {
  return found
    .map(
      (f) =>
        `<div><code>${esc(f.cluster)}: ${esc(f.workload)}</code> <span class="muted">(${esc(f.via)})</span>${f.listed ? '' : ' <span class="tag warn">not listed</span>'}</div>`,
    )
    .join('');
}

function whoUsesWhat(d: ReportData): string {
  const placements = new Map<string, Placement[]>();
  for (const p of d.placements) {
    const key = `${p.namespace}/${p.secret}`;
    let list = placements.get(key);
    if (!list) placements.set(key, (list = []));
    list.push(p);
  }
  const found = new Map<string, FoundConsumer[]>();
  for (const f of d.foundConsumers) {
    const key = `${f.namespace}/${f.secret}`;
    let list = found.get(key);
    if (!list) found.set(key, (list = []));
    list.push(f);
  }
  const byNamespace = new Map<string, ReportUnit[]>();
  for (const u of d.units) {
    if (!u.secret) continue;
    let list = byNamespace.get(u.secret.namespace);
    if (!list) byNamespace.set(u.secret.namespace, (list = []));
    list.push(u);
  }
  const head = `<th scope="col">Secret</th><th scope="col">Item</th><th scope="col">Clusters</th><th scope="col">Consumers listed</th>${d.checked.workloads ? '<th scope="col">Found using it</th>' : ''}`;
  const row = (u: ReportUnit): string => {
    const secret = defined(u.secret, 'a unit placed in a Secret');
    const key = `${secret.namespace}/${secret.name}`;
    const copies = placements.get(key);
    const clusters = copies
      ? copies
          .map(
            (p) =>
              `<div>${esc(p.cluster)} <span class="tag${p.state === PlacementState.Current ? '' : ' warn'}">${esc(p.state)}</span></div>`,
          )
          .join('')
      : esc(defined(u.secret).clusters.join(', '));
    return `<tr><td><code>${esc(defined(u.secret).name)}</code></td><td>${esc(u.key)}</td><td>${clusters}</td><td>${esc(u.consumers.join(', ')) || '<span class="muted">none</span>'}</td>${d.checked.workloads ? `<td>${consumerCell(found.get(key) ?? [])}</td>` : ''}</tr>`;
  };
  const namespaces = [...byNamespace.entries()].sort(([a], [b]) => a.localeCompare(b));
  const files = d.units.filter((u) => u.files);
  return join([
    !d.checked.secrets &&
      '<p class="muted">No cluster was read: copies and found consumers show when the report is made with <code>--out</code> or <code>--kubeconfig</code>.</p>',
    d.checked.secrets &&
      !d.checked.workloads &&
      '<p class="muted">Secrets were read from manifests; workloads using them show with <code>--kubeconfig</code>.</p>',
    ...namespaces.map(
      ([ns, units]) =>
        `<details class="group"${units.length <= 50 ? ' open' : ''}><summary>namespace <strong>${esc(ns)}</strong>: ${units.length} Secret${units.length === 1 ? '' : 's'}</summary>${groupedTable(head, units.sort((a, b) => defined(a.secret).name.localeCompare(defined(b.secret).name)).map(row), 'Secrets')}</details>`,
    ),
    files.length > 0 && `<h3>Host files</h3><ul>${files.map((u) => `<li>${esc(u.key)}: <code>${esc(u.files)}</code></li>`).join('')}</ul>`,
  ]);
}

function rotationBlock(r: ReportRotation, open: boolean): string {
  const steps = r.steps
    .map(
      (s) =>
        `<tr><td>${esc(s.step)}</td><td>${esc(s.status)}</td><td>${esc(shortTime(s.at))}</td><td class="num">${esc(formatDuration(s.durationMs))}</td><td class="num">${s.attempt}</td></tr>`,
    )
    .join('');
  const restarts = Object.entries(r.restarts);
  return `<details class="group" data-rotation="${esc(r.id)}"${open ? ' open' : ''}><summary><strong>${esc(r.item)}</strong> <span class="tag${r.status === 'completed' ? '' : ' warn'}">${esc(r.status)}</span> ${esc(r.trigger)}: ${esc(r.reason)} · started ${esc(shortTime(r.startedAt))} · ${esc(formatDuration(r.durationMs))}${r.status === 'running' ? ` · at ${esc(r.step)}` : ''}</summary>
<table><thead><tr><th scope="col">Step</th><th scope="col">Outcome</th><th scope="col">At (UTC)</th><th scope="col" class="num">Took</th><th scope="col" class="num">Attempt</th></tr></thead><tbody>${steps}</tbody></table>${
    restarts.length
      ? `<p>Restarts: ${restarts.map(([c, v]) => `${esc(c)} ${esc(v.state)}${v.workloads?.length ? ` (${esc(v.workloads.join(', '))})` : ''}`).join('; ')}</p>`
      : ''
  }${r.error ? `<p><span class="tag warn">error</span> ${esc(r.error)}</p>` : ''}<p class="muted">rotation <code>${esc(r.id)}</code></p></details>`;
}

function rotations(d: ReportData): string {
  if (!d.rotations.length) return '<p class="muted">No rotation recorded yet.</p>';
  return d.rotations.map((r, i) => rotationBlock(r, r.status === 'running' || i < 3)).join('');
}

interface DriftRow {
  readonly what: string;
  readonly where: string;
  readonly detail: string;
}

function driftRows(d: ReportData): DriftRow[] {
  const rows: DriftRow[] = [];
  for (const p of d.placements) {
    if (p.state === PlacementState.Current || p.state === PlacementState.NotChecked) continue;
    const detail =
      p.state === PlacementState.Stale
        ? `holds version ${p.version ?? '(none)'}, not the current one`
        : p.state === PlacementState.Missing
          ? 'the Secret does not exist'
          : p.state === PlacementState.Unmanaged
            ? 'a Secret rekey does not manage has this name'
            : `could not be read: ${p.error ?? ''}`;
    rows.push({ what: p.unit, where: `${p.cluster}/${p.namespace}/${p.secret}`, detail: `${p.state}: ${detail}` });
  }
  for (const f of d.foundConsumers)
    if (!f.listed)
      rows.push({
        what: f.item,
        where: `${f.cluster}/${f.workload}`,
        detail: `uses ${f.secret} (${f.via}) but is not a listed consumer: it would miss restarts`,
      });
  return rows;
}

function drift(d: ReportData): string {
  if (!d.checked.secrets) return '<p class="muted">Not checked: no cluster was read.</p>';
  const rows = driftRows(d);
  if (!rows.length)
    return '<p id="no-drift">No drift: every copy holds the current version and every workload using a Secret is listed.</p>';
  return groupedTable(
    '<th scope="col">Unit</th><th scope="col">Where</th><th scope="col">What</th>',
    rows.map((r) => `<tr><td>${esc(r.what)}</td><td><code>${esc(r.where)}</code></td><td>${esc(r.detail)}</td></tr>`),
    'findings',
  );
}

const SECTIONS = [
  ['tree', 'PKI tree', pkiTree],
  ['timeline', 'Expiry timeline', timeline],
  ['uses', 'Who uses what', whoUsesWhat],
  ['rotations', 'Last rotations', rotations],
  ['drift', 'Drift', drift],
] as const;

/**
 * The report page: one self-contained HTML document (inline CSS and SVG, no script, no external reference), light
 * or dark by the viewer's preference. Pure: the same data always gives the same text.
 */
export function renderReport(d: ReportData): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark"><title>rekey report: ${esc(d.inventory)}</title><style>${STYLES}</style></head>
<body><header><h1>rekey report: ${esc(d.inventory)}</h1>
<p class="meta">Generated ${esc(shortTime(d.generatedAt))} UTC · clusters: ${esc(d.clusters.join(', '))}</p>
<nav aria-label="Sections"><ul>${SECTIONS.map(([id, title]) => `<li><a href="#${id}">${title}</a></li>`).join('')}</ul></nav></header>
<main>${summary(d)}${SECTIONS.map(([id, title, body]) => `<section id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">${title}</h2>${body(d)}</section>`).join('\n')}</main>
<footer>Made by rekey from the inventory, the store and the journal. No key material is in this page.</footer>
</body></html>
`;
}
