import type { Logger } from '../../ports/logger.js';
import { LOG_LEVELS, type LogLevel } from './schemas.js';

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values are never written, whatever a caller passes by mistake. */
const SECRET_FIELD = /^(authorization|token|jwt|bearer|key|privateKey|jwk|d|password|secret|secretValue|tls\.key|cookie)$/i;
/** A JWT or a PEM private key inside any string value. */
const JWT_TEXT = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(JWT_TEXT, '[redacted-jwt]').replace(PEM_KEY, '[redacted-key]');
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : scrub(v, depth + 1);
  return out;
}

/** A logger whose level changes at runtime (`PUT /v1/log/level`). */
export interface LeveledLogger extends Logger {
  level(): LogLevel;
  setLevel(level: LogLevel): void;
  child(fields: Record<string, unknown>): Logger;
}

export const isLogLevel = (s: string): s is LogLevel => (LOG_LEVELS as readonly string[]).includes(s);

/**
 * One JSON object per line (time, level, message, fields such as rotationId). Values are scrubbed on the way out:
 * secret-named fields, JWTs and PEM private keys never reach the log even if a caller passes them.
 */
export function leveledJsonLogger(
  options: { level?: string; write?: (line: string) => void; base?: Record<string, unknown> } = {},
): LeveledLogger {
  const state: { level: LogLevel } = { level: options.level && isLogLevel(options.level) ? options.level : 'info' };
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const make = (base: Record<string, unknown>): Logger => {
    const at = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
      if (RANK[level] < RANK[state.level]) return;
      write(
        JSON.stringify({ time: new Date().toISOString(), level, message: scrub(message), ...(scrub({ ...base, ...fields }) as object) }),
      );
    };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  };
  return {
    ...make(options.base ?? {}),
    level: () => state.level,
    setLevel: (level) => {
      state.level = level;
    },
    child: (fields) => make({ ...options.base, ...fields }),
  };
}
