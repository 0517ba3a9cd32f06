import type { Logger } from '../../shared/ports/logger.js';
import { defined } from '../../shared/domain/defined.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/**
 * Structured logs for Lambda: one JSON object per line on stdout (CloudWatch keeps them as they are), with the
 * request id of the invocation when known. Fields must never hold key material (the Logger port's rule).
 */
export function jsonLogger(
  options: { level?: string; base?: Record<string, unknown>; write?: (line: string) => void } = {},
): Logger & { child(fields: Record<string, unknown>): Logger } {
  const min = LEVELS[(options.level?.toLowerCase() as Level) in LEVELS ? (defined(options.level).toLowerCase() as Level) : 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const make = (base: Record<string, unknown>) => {
    const log = (level: Level) => (message: string, fields?: Record<string, unknown>) => {
      if (LEVELS[level] < min) return;
      write(JSON.stringify({ level, time: new Date().toISOString(), message, ...base, ...fields }));
    };
    return {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (fields: Record<string, unknown>) => make({ ...base, ...fields }),
    };
  };
  return make(options.base ?? {});
}
