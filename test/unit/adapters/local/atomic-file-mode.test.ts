import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../../..');
const dir = mkdtempSync(join(tmpdir(), 'rekey-atomic-mode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The modes of files written by a process started under `umask`: the module reads the umask once at load and
 * skips the chmod when it cannot have cleared a bit of the mode, so the umask must be the process's from the start.
 */
function modesUnder(umask: string): Record<string, string> {
  const script = `
    import { statSync } from 'node:fs';
    import { writeFileAtomic, writeFilesAtomic, writeFilesTogether } from ${JSON.stringify(join(ROOT, 'shared/adapters/local/atomic-file.ts'))};
    const d = ${JSON.stringify(join(dir, umask))};
    await writeFileAtomic(d + '/durable-600', 'x', { mode: 0o600 });
    await writeFileAtomic(d + '/durable-644', 'x', { mode: 0o644 });
    await writeFileAtomic(d + '/plain-640', 'x', { mode: 0o640, durable: false });
    await writeFilesAtomic([{ path: d + '/group-600', data: 'x', mode: 0o600 }, { path: d + '/group-604', data: 'x', mode: 0o604 }]);
    await writeFilesTogether([{ path: d + '/pair-600', data: 'x', mode: 0o600 }, { path: d + '/pair-644', data: 'x', mode: 0o644 }]);
    const modes = {};
    for (const f of ['durable-600', 'durable-644', 'plain-640', 'group-600', 'group-604', 'pair-600', 'pair-644']) modes[f] = (statSync(d + '/' + f).mode & 0o777).toString(8);
    console.log(JSON.stringify(modes));`;
  const out = execFileSync('sh', ['-c', `umask ${umask} && exec node --import tsx --input-type=module -e "$0"`, script], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(out) as Record<string, string>;
}

describe('writeFileAtomic, writeFilesAtomic and writeFilesTogether: an explicit mode wins over the umask', () => {
  const expected = {
    'durable-600': '600',
    'durable-644': '644',
    'plain-640': '640',
    'group-600': '600',
    'group-604': '604',
    'pair-600': '600',
    'pair-644': '644',
  };

  it.each(['022', '077', '277', '000'])('under umask %s every file has exactly its mode', (umask) => {
    expect(modesUnder(umask)).toEqual(expected);
  });
});
