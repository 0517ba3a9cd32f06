/**
 * Characters that must never reach a certificate, a file name or a terminal from an inventory: C0 and C1
 * controls (NUL truncates names in C libraries, a newline forges log lines), the bidirectional overrides and
 * isolates (U+202A-U+202E, U+2066-U+2069, "Trojan Source") and the invisible marks that let two names look
 * alike (U+200E, U+200F, U+2028, U+2029, U+FEFF).
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
/** The same, but tab and newline allowed (a `reload` command may span lines). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const UNSAFE_IN_COMMAND = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;

/** A regular expression that matches text free of unsafe characters, for the schema (and its JSON Schema `pattern`). */
export const SAFE_TEXT = new RegExp(`^[^${UNSAFE.source.slice(1, -1)}]*$`);
export const SAFE_COMMAND = new RegExp(`^[^${UNSAFE_IN_COMMAND.source.slice(1, -1)}]*$`);

const NAMES: Record<number, string> = { 0x0: 'NUL', 0x9: 'tab', 0xa: 'newline', 0xd: 'carriage return', 0x1b: 'escape', 0x7f: 'DEL' };

/** Describes the first unsafe character in `text` (`NUL at position 2`), or undefined when there is none. */
export function unsafeCharacter(text: string, options: { allowNewline?: boolean } = {}): string | undefined {
  const m = (options.allowNewline ? UNSAFE_IN_COMMAND : UNSAFE).exec(text);
  if (!m) return undefined;
  const code = m[0].charCodeAt(0);
  const u = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  const kind = (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) ? 'bidirectional control' : 'control character';
  return `${kind} ${NAMES[code] ? `${NAMES[code]} (${u})` : u} at position ${m.index + 1}`;
}

/**
 * Quotes a value for an error message: unsafe characters become `\u0000` escapes and long values are cut,
 * so a message never carries a raw NUL, a terminal escape or a 10,000-character name.
 */
export function quote(value: string, max = 80): string {
  const cut = value.length > max ? `${value.slice(0, max)}…(${value.length} characters)` : value;
  return `"${cut
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** Makes any text safe to print (unsafe characters escaped), without quoting or cutting it. */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
