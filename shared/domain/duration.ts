const UNIT_MS = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const PART = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;
/** Go's time.Duration is an int64 of nanoseconds: about 292 years. Longer is not a duration (and no Date holds it). */
const MAX_MS = 9_223_372_036_854.775; // 9223372036854775807 ns, to the nearest double

/**
 * Parses a Go-style duration (`2160h`, `1h30m`, `90s`, `500ms`, `.5h`, `-1h`) into milliseconds, with Go's
 * grammar and range. Returns undefined when the text is not one; days are deliberately not a unit, as in Go.
 */
export function parseDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s.length === 0) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < s.length) {
    const start = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== start) return undefined;
    const [, whole = '', fraction] = m;
    if (whole === '' && !fraction) return undefined; // "h" or ".h": Go wants a digit before or after the dot
    total += Number(`${whole || '0'}.${fraction || '0'}`) * UNIT_MS[m[3] as keyof typeof UNIT_MS];
    if (!(total <= MAX_MS)) return undefined;
  }
  const ms = Math.round(total);
  return ms === 0 ? 0 : sign * ms;
}

/** Formats milliseconds the way Go prints durations, largest units first (`720h0m0s` is written `720h`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  return sign + (h ? `${h}h` : '') + (m ? `${m}m` : '') + (s ? `${s}s` : '');
}
