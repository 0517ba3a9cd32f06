/** A small line chart as SVG text (no dependency): series of (x, y) points, a vertical marker, axis ticks. */

export interface Series {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** A vertical line at this x (e.g. the 45-minute target). */
  readonly marker?: { readonly x: number; readonly label: string };
  readonly width?: number;
  readonly height?: number;
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round tick steps: 1, 2 or 5 times a power of ten, about `count` of them. */
function ticks(max: number, count = 6): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 400;
  const m = { left: 70, right: 20, top: 40, bottom: 50 };
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(1, ...xs, o.marker ? o.marker.x * 1.05 : 0);
  const yMax = Math.max(1, ...ys);
  const px = (x: number) => m.left + (x / xMax) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - (y / yMax) * (height - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${escape(o.title)}</text>`,
  ];
  for (const t of ticks(xMax)) {
    parts.push(
      `<line x1="${px(t)}" y1="${py(0)}" x2="${px(t)}" y2="${m.top}" stroke="#eee"/>`,
      `<text x="${px(t)}" y="${py(0) + 16}" text-anchor="middle">${t}</text>`,
    );
  }
  for (const t of ticks(yMax)) {
    parts.push(
      `<line x1="${m.left}" y1="${py(t)}" x2="${width - m.right}" y2="${py(t)}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${t.toLocaleString('en-US')}</text>`,
    );
  }
  parts.push(
    `<line x1="${m.left}" y1="${py(0)}" x2="${width - m.right}" y2="${py(0)}" stroke="black"/>`,
    `<line x1="${m.left}" y1="${py(0)}" x2="${m.left}" y2="${m.top}" stroke="black"/>`,
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 12}" text-anchor="middle">${escape(o.xLabel)}</text>`,
    `<text x="16" y="${(m.top + height - m.bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.top + height - m.bottom) / 2})">${escape(o.yLabel)}</text>`,
  );
  if (o.marker) {
    const x = px(o.marker.x);
    parts.push(
      `<line x1="${x}" y1="${py(0)}" x2="${x}" y2="${m.top}" stroke="#c00" stroke-dasharray="4 3"/>`,
      `<text x="${x - 4}" y="${m.top + 12}" text-anchor="end" fill="#c00">${escape(o.marker.label)}</text>`,
    );
  }
  o.series.forEach((s, i) => {
    const d = s.points.map(([x, y], j) => `${j ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    const ly = m.top + 14 + i * 16;
    parts.push(
      `<rect x="${m.left + 10}" y="${ly - 9}" width="12" height="3" fill="${s.color}"/>`,
      `<text x="${m.left + 28}" y="${ly - 4}">${escape(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Completion instants (ms) as a cumulative curve in minutes, thinned to at most `points` points. */
export function cumulative(completions: readonly number[], points = 300): [number, number][] {
  if (completions.length === 0) return [[0, 0]];
  const step = Math.max(1, Math.floor(completions.length / points));
  const out: [number, number][] = [[0, 0]];
  for (let i = step - 1; i < completions.length; i += step) out.push([completions[i]! / 60_000, i + 1]);
  const last = completions.length;
  if (out.at(-1)?.[1] !== last) out.push([completions[last - 1]! / 60_000, last]);
  return out;
}
