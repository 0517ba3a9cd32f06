import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileWriterError, FileWriterThread } from '../../../../shared/adapters/file-writer/thread.js';
import { FILESYSTEM_SYNC_MIN_FILES } from '../../../../shared/adapters/local/atomic-file.js';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { ManifestWriter } from '../../../../shared/adapters/local/manifest-writer.js';
import { REPO_ROOT } from '../../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

let root: string;
let thread: FileWriterThread;

beforeEach(async () => {
  root = await makeTempDir('rekey-file-writer-');
  thread = new FileWriterThread({ inProcessFiles: 0 });
});
afterEach(async () => {
  await thread.close();
  await removeTempDir(root);
});

const leftovers = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.tmp'));

describe('FileWriterThread (vault entries and manifests written on a thread of their own)', () => {
  it('commits a group durably: every file under its name with its mode, a failed one named by its error code, the others written', async () => {
    // Prepare: one target is a folder, which no file can be renamed over
    await mkdir(join(root, 'vault', 'taken.json'), { recursive: true });
    const files = Array.from({ length: FILESYSTEM_SYNC_MIN_FILES + 8 }, (_, i) => ({
      path: join(root, 'vault', `e${i}.json`),
      data: `entry ${i}`,
      mode: 0o600,
    }));
    // Act
    const outcomes = await thread.writeDurably([...files, { path: join(root, 'vault', 'taken.json'), data: 'lost' }]);
    // Assess
    expect(outcomes.slice(0, files.length).every((o) => o.status === 'fulfilled')).toBe(true);
    const failed = outcomes.at(-1);
    expect(failed?.status).toBe('rejected');
    expect((failed as PromiseRejectedResult).reason).toMatchObject({ code: 'EISDIR', message: expect.stringContaining('taken.json') });
    for (const f of files) {
      expect(await readFile(f.path, 'utf8')).toBe(f.data);
      expect((await stat(f.path)).mode & 0o777).toBe(0o600);
    }
    expect(await leftovers(join(root, 'vault'))).toEqual([]);
    expect(thread.running).toBe(true);
  });

  it('sends the files replaced in one turn in one message, each answered on its own', async () => {
    // Prepare: one target under a regular file, which no folder can be made under
    await writeFile(join(root, 'blocker'), 'a file, not a folder');
    // Act
    const writes = Array.from({ length: 50 }, (_, i) =>
      thread.writeReplacing({ path: join(root, 'ns', `s${i}.yaml`), data: `secret ${i}\n`, mode: 0o600 }),
    );
    const blocked = thread.writeReplacing({ path: join(root, 'blocker', 'under-a-file.yaml'), data: 'lost' }, { folderMade: true });
    await Promise.all(writes);
    // Assess
    await expect(blocked).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(thread.messagesSent).toBe(1);
    expect(await readFile(join(root, 'ns', 's49.yaml'), 'utf8')).toBe('secret 49\n');
    expect((await readdir(join(root, 'ns'))).length).toBe(50);
  });

  it('writes the first files of a run in process and starts no thread for them; the ones after go to the thread', async () => {
    // Prepare
    const small = new FileWriterThread({ inProcessFiles: 3 });
    // Act
    await small.writeDurably([1, 2].map((i) => ({ path: join(root, 'v', `e${i}.json`), data: `e${i}` })));
    await small.writeReplacing({ path: join(root, 'ns', 'a.yaml'), data: 'a' });
    const before = small.running;
    await small.writeReplacing({ path: join(root, 'ns', 'b.yaml'), data: 'b' });
    // Assess
    expect(before).toBe(false);
    expect(small.running).toBe(true);
    expect(small.messagesSent).toBe(1);
    expect(await readFile(join(root, 'v', 'e2.json'), 'utf8')).toBe('e2');
    expect(await readFile(join(root, 'ns', 'b.yaml'), 'utf8')).toBe('b');
    await small.close();
  });

  it('makes a folder removed after its first write again, as the in-process writer does', async () => {
    // Prepare
    await thread.writeReplacing({ path: join(root, 'ns', 'a.yaml'), data: 'a' });
    await removeTempDir(join(root, 'ns'));
    // Act
    await thread.writeReplacing({ path: join(root, 'ns', 'b.yaml'), data: 'b' }, { folderMade: true });
    // Assess
    expect(await readFile(join(root, 'ns', 'b.yaml'), 'utf8')).toBe('b');
  });

  it('carries a FileVault and a ManifestWriter: what they wrote on the thread reads back in process', async () => {
    // Prepare
    const key = Buffer.alloc(32, 7);
    const vault = new FileVault(join(root, 'vault'), key, { sole: true, files: thread });
    const manifests = new ManifestWriter(join(root, 'out', 'dc1'), { sole: true, files: thread });
    // Act
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await vault.putCurrent(`app/s${i}`, `v${i}`, `value-${i}`);
        await manifests.writeSecret(
          {
            name: `s${i}`,
            namespace: 'app',
            type: 'Opaque',
            data: { v: `value-${i}` },
            labels: { 'app.kubernetes.io/managed-by': 'rekey' },
            annotations: {},
          },
          { adopt: false },
        );
      }),
    );
    // Assess
    const reread = new FileVault(join(root, 'vault'), key);
    expect((await reread.getVersion('app/s39'))?.value).toBe('value-39');
    expect((await new ManifestWriter(join(root, 'out', 'dc1')).getSecret('app', 's39'))?.data).toEqual({ v: 'value-39' });
    expect(thread.messagesSent).toBeGreaterThan(1);
  });

  it('appends to an existing file on the thread, one message each; a missing file fails with its error code and is not created', async () => {
    // Prepare
    const log = join(root, 'index');
    await writeFile(log, 'first\n');
    // Act
    await thread.appendDurably(log, 'second\n');
    await thread.appendDurably(log, 'third\n');
    const missing = thread.appendDurably(join(root, 'no-such-index'), 'lost\n');
    // Assess
    await expect(missing).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(log, 'utf8')).toBe('first\nsecond\nthird\n');
    expect(await readdir(root)).toEqual(['index']);
    expect(thread.messagesSent).toBe(3);
  });

  it('appends the line of a commit only once every file of it is written; a failed file leaves the log as it was', async () => {
    // Prepare: a log, and a folder where one file of the second commit should go
    const log = join(root, 'index');
    await writeFile(log, 'snapshot\n');
    await mkdir(join(root, 'v', 'taken.json'), { recursive: true });
    const file = (name: string) => ({ path: join(root, 'v', name), data: name, mode: 0o600 });
    // Act
    const good = await thread.writeDurablyThenAppend([file('a.json'), file('b.json')], { path: log, data: 'line 1\n' });
    const bad = await thread.writeDurablyThenAppend([file('c.json'), file('taken.json')], { path: log, data: 'line 2\n' });
    // Assess
    expect(good.files.map((f) => f.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(good.appended?.status).toBe('fulfilled');
    expect(bad.files.map((f) => f.status)).toEqual(['fulfilled', 'rejected']);
    expect(bad.appended).toBeUndefined();
    expect(await readFile(log, 'utf8')).toBe('snapshot\nline 1\n');
    expect(await readFile(join(root, 'v', 'c.json'), 'utf8')).toBe('c.json');
    expect(thread.messagesSent).toBe(2);
  });

  it("sends a FileVault's commit to the thread as one message: its entries, then its index line once they are durable", async () => {
    // Prepare: the vault's first index (its snapshot) is written before the thread counts
    const key = Buffer.alloc(32, 9);
    const vault = new FileVault(join(root, 'vault'), key, { sole: true, files: thread });
    await vault.putCurrent('app/first', 'v0', 'value-0');
    const before = thread.messagesSent;
    // Act
    await vault.putCurrent('app/second', 'v1', 'value-1');
    // Assess
    expect(thread.messagesSent - before).toBe(1);
    const reread = new FileVault(join(root, 'vault'), key);
    expect((await reread.getVersion('app/second'))?.value).toBe('value-1');
    expect((await readFile(join(root, 'vault', 'index'), 'utf8')).trimEnd().split('\n')).toHaveLength(3);
  });

  it('waits for the writes asked for before it stops; later writes are made in process', async () => {
    // Prepare
    const writing = thread.writeReplacing({ path: join(root, 'before.yaml'), data: 'before' });
    // Act: two closes at once, as a signal handler and the command's end may ask
    await Promise.all([thread.close(), thread.close()]);
    await thread.writeReplacing({ path: join(root, 'after.yaml'), data: 'after' });
    // Assess
    await writing;
    expect(thread.running).toBe(false);
    expect(await readFile(join(root, 'before.yaml'), 'utf8')).toBe('before');
    expect(await readFile(join(root, 'after.yaml'), 'utf8')).toBe('after');
    expect(thread.messagesSent).toBe(1);
  });

  it('fails the writes of a thread that stops, and makes later ones in process', async () => {
    // Prepare
    const broken = new FileWriterThread({ inProcessFiles: 0, entry: { url: new URL('file:///nonexistent/rekey-file-worker.mjs') } });
    // Act
    const outcomes = await broken.writeDurably([{ path: join(root, 'lost.json'), data: 'lost' }]);
    await broken.writeReplacing({ path: join(root, 'later.yaml'), data: 'later' });
    // Assess
    expect(outcomes[0]?.status).toBe('rejected');
    expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(FileWriterError);
    expect((outcomes[0] as PromiseRejectedResult).reason.message).toMatch(
      /the file writer's thread stopped .*; the file may have its old or its new content/,
    );
    expect(await readFile(join(root, 'later.yaml'), 'utf8')).toBe('later');
    await broken.close();
  });

  it('does not keep a process alive once its writes are done, closed or not', () => {
    // Act
    const script = `
      import { FileWriterThread } from ${JSON.stringify(join(REPO_ROOT, 'shared/adapters/file-writer/thread.ts'))};
      const t = new FileWriterThread({ inProcessFiles: 0 });
      await t.writeReplacing({ path: ${JSON.stringify(join(root, 'unclosed.yaml'))}, data: 'unclosed' });
      process.stdout.write('written\\n');
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    // Assess: killed at the timeout, it would have no exit status
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('written\n');
    expect(r.status).toBe(0);
  });
});
