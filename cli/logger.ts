import type { Logger } from '../shared/ports/logger.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/** Text lines on stderr; the level comes from REKEY_LOG_LEVEL (default warn). */
export function stderrLogger(level: string = process.env.REKEY_LOG_LEVEL ?? 'warn'): Logger {
  const min = LEVELS[(level in LEVELS ? level : 'warn') as Level];
  const write = (l: Level) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[l] < min) return;
    const extra = fields
      ? Object.entries(fields)
          .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join('')
      : '';
    process.stderr.write(`${l}: ${message}${extra}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
