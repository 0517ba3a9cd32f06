import { defined } from '../../domain/defined.js';
/** Small helpers for building HTML text safely: every value that comes from data passes through `esc`. */

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const esc = (value: string | number | undefined): string => String(value ?? '').replace(/[&<>"']/g, (c) => defined(ENTITIES[c]));

/** Joins pieces, dropping false/undefined, so sections read as lists of parts. */
export const join = (parts: readonly (string | false | undefined)[]): string =>
  parts.filter((p): p is string => typeof p === 'string').join('');

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const DAY_MS = 86_400_000;

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 2 * DAY_MS) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${Math.round(ms / DAY_MS)} d`;
}

/** `2027-02-28 23:25` in UTC: short, sortable, unambiguous. */
export const shortTime = (iso: string | undefined): string => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : '');
export const shortDate = (iso: string | undefined): string => (iso ? iso.slice(0, 10) : '');
