// Which CLI bin/rekey.js runs: dist/rekey.mjs (`npm run build:cli`) while no project file it was built from is newer
// than it, else undefined (the TypeScript through tsx). Plain JavaScript: it runs before anything is compiled.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The bundle's path under `root` if it exists and is up to date; undefined otherwise. */
export function freshBundle(root) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(root, 'dist', 'rekey.inputs.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const bundle = join(root, 'dist', manifest.bundle);
  const built = statSync(bundle, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) return undefined;
  for (const input of manifest.inputs) {
    const changed = statSync(join(root, input), { throwIfNoEntry: false })?.mtimeMs;
    if (changed === undefined || changed > built) return undefined;
  }
  return bundle;
}
