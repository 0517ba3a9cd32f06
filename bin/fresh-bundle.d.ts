/** The bundle's path under `root` if it exists and is up to date; undefined otherwise. */
export function freshBundle(root: string): string | undefined;
