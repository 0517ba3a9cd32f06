import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RekeyError } from '../../domain/errors.js';
import type { FilePlacement } from '../../domain/inventory/model.js';
import type { HostFiles } from '../../ports/host-files.js';
import { writeFileAtomic } from './atomic-file.js';

/** Files on this host (seed 004's proxy): each written atomically with the placement's mode when it differs. */
export class LocalHostFiles implements HostFiles {
  async write(placement: FilePlacement, files: Readonly<Record<string, string>>): Promise<string[]> {
    const written: string[] = [];
    for (const [name, content] of Object.entries(files)) {
      const path = join(placement.dir, name);
      const current = await readFile(path, 'utf8').catch(() => undefined);
      if (current === content) continue;
      await writeFileAtomic(path, content, { mode: placement.mode });
      written.push(name);
    }
    return written;
  }

  reload(command: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      // Both streams: many reload scripts report on stdout. Neither carries key material (it is in files).
      child.stdout.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (e) => reject(new RekeyError(`reload command failed to start: ${command}`, { cause: e })));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new RekeyError(`reload command "${command}" exited ${code}: ${stderr.trim().slice(-500)}`, { retryable: true }))));
    });
  }
}
