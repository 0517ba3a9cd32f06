/**
 * The value, or an error naming what was expected when it is missing. Used where the code knows a value exists (an
 * index inside bounds, a key just inserted) but the compiler cannot see it: a broken assumption fails loudly here
 * instead of travelling on as `undefined`.
 */
export function defined<T>(value: T | null | undefined, what = 'a value'): T {
  if (value === null || value === undefined) throw new Error(`internal error: expected ${what}, found ${String(value)}`);
  return value;
}
