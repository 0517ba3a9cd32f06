/**
 * `build`'s result, built once on the first call and shared by every later one; a failed build is tried again on
 * the next call. `build` runs synchronously within the first call (its throw becomes the rejection).
 */
export function onFirstUse<T>(build: () => T | Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () =>
    (built ??= new Promise<T>((resolve) => resolve(build())).catch((e: unknown) => {
      built = undefined;
      throw e;
    }));
}
