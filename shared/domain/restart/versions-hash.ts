import { createHash } from 'node:crypto';

/**
 * SHA-256 (hex) of the secret versions a restart brings in: `unit=versionId` lines, sorted, so the same versions
 * give the same hash in every cluster and on every retry. Written to the pod template as `rekey/versions`; a
 * workload that already carries it is not restarted again (Reloader's Updated/NotUpdated).
 */
export function versionsHash(versions: Readonly<Record<string, string>>): string {
  const lines = Object.entries(versions)
    .map(([unit, version]) => `${unit}=${version}`)
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}
