import { esc } from './html.js';
import { URGENCY_ORDER, Urgency, type ReportUnit } from './model.js';
import { defined } from '../../domain/defined.js';

const DAY_MS = 86_400_000;
const WEEKS = 52;
/** Units drawn one bar each: the most urgent; the histogram covers all of them. */
export const TIMELINE_BARS = 30;

const FILL: Readonly<Record<Urgency, string>> = {
  [Urgency.Expired]: 'var(--expired)',
  [Urgency.Due]: 'var(--due)',
  [Urgency.Soon]: 'var(--soon)',
  [Urgency.Ok]: 'var(--ok)',
  [Urgency.NotIssued]: 'var(--not-issued)',
};

/** When a unit needs its next version: expiry for certificates, the rotation date for credentials. */
const endOf = (u: ReportUnit): number | undefined => (u.notAfter ? Date.parse(u.notAfter) : u.renewAt ? Date.parse(u.renewAt) : undefined);

/**
 * Weekly histogram of expiries over the next year (stacked by urgency), a bucket for what has expired and one for
 * what runs beyond a year. Readable for any number of units: its size does not grow with them.
 */
export function expiryHistogram(units: readonly ReportUnit[], now: Date): string {
  const buckets: Record<Urgency, number>[] = Array.from({ length: WEEKS + 2 }, () => ({
    expired: 0,
    due: 0,
    soon: 0,
    ok: 0,
    'not-issued': 0,
  }));
  for (const u of units) {
    const end = endOf(u);
    if (end === undefined) continue;
    const week = Math.floor((end - now.getTime()) / (7 * DAY_MS));
    const index = end <= now.getTime() ? 0 : Math.min(WEEKS + 1, week + 1);
    defined(buckets[index])[u.urgency]++;
  }
  const max = Math.max(1, ...buckets.map((b) => Object.values(b).reduce((s, n) => s + n, 0)));
  const W = 1160;
  const H = 220;
  const left = 50;
  const top = 10;
  const plotH = 160;
  const bw = (W - left - 10) / buckets.length;
  const bars: string[] = [];
  buckets.forEach((b, i) => {
    let y = top + plotH;
    for (const urgency of URGENCY_ORDER) {
      const n = b[urgency];
      if (!n) continue;
      const h = (n / max) * plotH;
      y -= h;
      const label = i === 0 ? 'expired' : i === WEEKS + 1 ? 'beyond a year' : `week ${i}`;
      bars.push(
        `<rect x="${(left + i * bw + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${FILL[urgency]}"><title>${esc(label)}: ${n} ${urgency}</title></rect>`,
      );
    }
  });
  const ticks = [0, 4, 13, 26, 39, 52].map((w) => {
    const x = left + (w + 1) * bw;
    const label = w === 0 ? 'now' : `+${w} wk`;
    return `<line class="axis" x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${top + plotH}"/><text x="${x.toFixed(1)}" y="${top + plotH + 16}" font-size="11" text-anchor="middle" fill="currentColor">${label}</text>`;
  });
  const total = buckets.reduce((s, b) => s + Object.values(b).reduce((a, n) => a + n, 0), 0);
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="hist-title"><title id="hist-title">Expiries per week over the next year: ${total} units, ${defined(buckets[0]).expired} expired, ${defined(buckets[WEEKS + 1]).ok + defined(buckets[WEEKS + 1]).soon} beyond a year</title>
<line class="axis" x1="${left}" y1="${top + plotH}" x2="${W - 10}" y2="${top + plotH}"/>
<text x="${left - 6}" y="${top + 10}" font-size="11" text-anchor="end" fill="currentColor">${max}</text><text x="${left - 6}" y="${top + plotH}" font-size="11" text-anchor="end" fill="currentColor">0</text>
<text x="${left + bw / 2}" y="${top + plotH + 32}" font-size="11" text-anchor="middle" fill="currentColor">expired</text><text x="${W - 10 - bw / 2}" y="${top + plotH + 32}" font-size="11" text-anchor="end" fill="currentColor">later</text>
${ticks.join('')}${bars.join('')}</svg>`;
}

/**
 * One bar per unit for the most urgent ones: its life from notBefore to notAfter, the renewal window coloured by
 * urgency, today as a dashed line, a ring on units whose rotation is in flight.
 */
export function urgentBars(units: readonly ReportUnit[], now: Date): string {
  const shown = units.filter((u) => u.notAfter && u.notBefore).slice(0, TIMELINE_BARS);
  if (!shown.length) return '<p class="muted">No issued certificates yet.</p>';
  const from = Math.min(now.getTime() - 30 * DAY_MS, ...shown.map((u) => Date.parse(defined(u.notBefore))));
  const to = Math.max(
    now.getTime() + 30 * DAY_MS,
    ...shown.map((u) => Math.min(Date.parse(defined(u.notAfter)), now.getTime() + 730 * DAY_MS)),
  );
  const W = 1160;
  const labelW = 260;
  const rowH = 20;
  const H = shown.length * rowH + 30;
  const x = (t: number) => labelW + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * (W - labelW - 20);
  const rows = shown.map((u, i) => {
    const y = i * rowH + 4;
    const start = x(Date.parse(defined(u.notBefore)));
    const end = x(Date.parse(defined(u.notAfter)));
    const renew = x(Date.parse(u.renewAt ?? defined(u.notAfter)));
    const days = u.daysLeft ?? 0;
    const label = u.key.length > 38 ? `${u.key.slice(0, 37)}…` : u.key;
    return `<g><title>${esc(u.key)}: expires ${esc(u.notAfter)} (${days} days), renewal window opens ${esc(u.renewAt)}${u.rotating ? `, rotation ${esc(u.rotating.id)} at ${esc(u.rotating.step)}` : ''}</title>
<text x="${labelW - 8}" y="${y + 12}" font-size="12" text-anchor="end" fill="currentColor">${esc(label)}</text>
<rect class="life" x="${start.toFixed(1)}" y="${y + 3}" width="${Math.max(1, renew - start).toFixed(1)}" height="10" rx="2"/>
<rect x="${renew.toFixed(1)}" y="${y + 1}" width="${Math.max(2, end - renew).toFixed(1)}" height="14" rx="2" fill="${FILL[u.urgency]}"/>
${u.rotating ? `<circle cx="${(end + 10).toFixed(1)}" cy="${y + 8}" r="5" fill="none" stroke="currentColor" stroke-width="2"/>` : ''}</g>`;
  });
  const nowX = x(now.getTime());
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="bars-title"><title id="bars-title">The ${shown.length} most urgent units: lifetime, renewal window and today</title>
${rows.join('\n')}
<line class="now" x1="${nowX.toFixed(1)}" y1="0" x2="${nowX.toFixed(1)}" y2="${H - 18}"/><text x="${nowX.toFixed(1)}" y="${H - 4}" font-size="11" text-anchor="middle" fill="currentColor">today</text></svg>`;
}
