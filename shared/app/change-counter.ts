/**
 * Counts the writes a process makes through its adapters, so that a read model (the API's item summaries, the
 * token key set) knows without any I/O whether what it computed is still what the store and journal hold. Only
 * writes made through the wrapped objects are counted: a runtime where other processes write too (Lambda) also
 * needs a time bound.
 */
export class ChangeCounter {
  private count = 0;

  /** Changes every time a counted write settles (succeeded or failed: a failed write may have written part). */
  get value(): number {
    return this.count;
  }

  bump(): void {
    this.count++;
  }
}

/** The methods of the SecretStore port that only read; every other method counts as a write. */
export const STORE_READS = ['describe', 'getVersion', 'list'] as const;
/** The methods of the Journal port that only read; every other method (create, update, claimLease, ...) counts. */
export const JOURNAL_READS = ['get', 'listByItem', 'listByStatus'] as const;

/**
 * `target` with every method except `reads` counted by `counter` when it settles. A method added to the port later
 * counts as a write until it is named a read (a needless recompute, never a stale answer). Methods run on the
 * target itself, so its own internal calls are not counted twice.
 */
export function countWrites<T extends object>(target: T, reads: readonly string[], counter: ChangeCounter): T {
  const readSet = new Set(reads);
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, property) {
      const value: unknown = Reflect.get(t, property, t);
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(property);
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown;
        fn =
          typeof property === 'string' && readSet.has(property)
            ? method.bind(t)
            : (...args: unknown[]): unknown => {
                let result: unknown;
                try {
                  result = method.apply(t, args);
                } catch (e) {
                  counter.bump();
                  throw e;
                }
                if (result instanceof Promise) return result.finally(() => counter.bump());
                counter.bump();
                return result;
              };
        wrapped.set(property, fn);
      }
      return fn;
    },
  });
}
