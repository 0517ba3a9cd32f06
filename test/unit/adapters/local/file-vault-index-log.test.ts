import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { IntegrityError } from '../../../../shared/domain/errors.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

// The vault index as a log: a snapshot line, then one sealed line per group commit (issue 14: no O(secrets) rewrite
// of the index per commit). What the whole-file index guaranteed must still hold.

let root: string;
let dir: string;
let key: Buffer;
beforeEach(async () => {
  root = await makeTempDir('rekey-vault-index-log-');
  dir = join(root, 'vault');
  key = randomBytes(32);
});
afterEach(() => removeTempDir(root));

const reader = () => new FileVault(dir, key);
const indexLines = async (): Promise<string[]> => (await readFile(join(dir, 'index'), 'utf8')).split('\n').filter(Boolean);

describe('FileVault index log', () => {
  it('appends one line per commit instead of rewriting the index, and a fresh reader sees every generation', async () => {
    // Prepare
    const vault = reader();
    // Act: 30 commits, one after the other (each its own group commit)
    for (let i = 0; i < 30; i++) await vault.putCurrent(`rekey/log/svc-${i}`, 'v1', `value-${i}`);
    await vault.putCurrent('rekey/log/svc-0', 'v2', 'value-0b');
    // Assess: a snapshot and one line per commit; a new process reads all, and the index still catches a deletion
    expect(await indexLines()).toHaveLength(1 + 31);
    expect((await reader().getVersion('rekey/log/svc-0'))?.value).toBe('value-0b');
    expect((await reader().getVersion('rekey/log/svc-29'))?.value).toBe('value-29');
    await rm(join(dir, `${encodeURIComponent('rekey/log/svc-7')}.vault`));
    await expect(reader().getVersion('rekey/log/svc-7')).rejects.toThrow(
      /is missing .* the vault index records generation 1: it was deleted/,
    );
  });

  it('an index put back from before later commits (a shorter log) is refused as before', async () => {
    // Prepare
    const vault = reader();
    await vault.putCurrent('rekey/log/a', 'v1', 'one');
    await copyFile(join(dir, 'index'), join(root, 'old-index'));
    await vault.putCurrent('rekey/log/a', 'v2', 'two');
    await vault.putCurrent('rekey/log/a', 'v3', 'three');
    // Act
    await copyFile(join(root, 'old-index'), join(dir, 'index'));
    // Assess
    await expect(reader().getVersion('rekey/log/a')).rejects.toThrow(/vault index .* is older than entry/);
  });

  it('a last line cut by a kill while it was appended is ignored, and the next writer starts a clean log', async () => {
    // Prepare: a commit whose index line was cut half-way (its entry is then one generation ahead: a cut write)
    const vault = reader();
    await vault.putCurrent('rekey/log/a', 'v1', 'one');
    const lines = await indexLines();
    await appendFile(join(dir, 'index'), lines.at(-1)!.slice(0, 40));
    // Act
    const read = await reader().getVersion('rekey/log/a');
    const next = reader();
    await next.putCurrent('rekey/log/a', 'v2', 'two');
    // Assess
    expect(read?.value).toBe('one');
    expect((await reader().getVersion('rekey/log/a'))?.value).toBe('two');
    expect((await readFile(join(dir, 'index'), 'utf8')).endsWith('\n')).toBe(true);
    for (const line of await indexLines()) expect(line.length).toBeGreaterThan(40);
  });

  it('a damaged line inside the log is refused, not skipped', async () => {
    // Prepare
    const vault = reader();
    await vault.putCurrent('rekey/log/a', 'v1', 'one');
    await vault.putCurrent('rekey/log/b', 'v1', 'one');
    const lines = await indexLines();
    // Act: the first appended line is replaced by a box sealed under another key
    const other = new FileVault(join(root, 'other'), randomBytes(32));
    await other.putCurrent('rekey/log/a', 'v1', 'one');
    lines[1] = (await readFile(join(root, 'other', 'index'), 'utf8')).split('\n')[0]!;
    await writeFile(join(dir, 'index'), lines.join('\n') + '\n');
    // Assess
    await expect(reader().getVersion('rekey/log/a')).rejects.toBeInstanceOf(IntegrityError);
  });

  it('compacts the log into one snapshot once the appended lines outgrow it', async () => {
    // Prepare
    const vault = new FileVault(dir, key, { indexCompactBytes: 4096 });
    // Act: enough commits to append more than 4 KiB of lines (64 KiB by default)
    for (let i = 0; i < 400; i++) await vault.putCurrent(`rekey/log/svc-${i % 20}`, `v${i}`, `value-${i}`);
    // Assess: the log was rewritten at least once (far fewer lines than commits), and reads back whole
    expect((await indexLines()).length).toBeLessThan(400);
    expect((await reader().getVersion('rekey/log/svc-19'))?.value).toBe('value-399');
  });
});
