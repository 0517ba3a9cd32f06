import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostFilesState, LocalHostFiles } from '../../../../shared/adapters/local/host-files.js';
import { ReloadError, scrubPem } from '../../../../shared/adapters/local/reload-command.js';
import type { FilePlacement } from '../../../../shared/domain/inventory/model.js';
import { FileChange } from '../../../../shared/ports/host-files.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n';

let root: string;
let state: string;
let placement: FilePlacement;
let host: LocalHostFiles;

beforeEach(async () => {
  root = await makeTempDir('rekey-host-files-');
  state = join(root, 'state');
  await mkdir(state);
  placement = { dir: join(root, 'tls'), cert: 'server.crt', key: 'server.key', mode: 0o600 };
  host = new LocalHostFiles({ stateDir: state });
});
afterEach(() => removeTempDir(root));

const files = { 'server.crt': 'CERT\n', 'server.key': KEY };
const modeOf = async (name: string) => (await stat(join(placement.dir, name))).mode & 0o777;
/** Still running: exists and is not a zombie (the container's init may never reap the orphans of a killed shell). */
const running = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
};
/** Signals are delivered asynchronously: look a few times before calling a process alive. */
const alive = async (pid: number) => {
  for (let i = 0; i < 20 && (await running(pid)); i++) await new Promise((r) => setTimeout(r, 100));
  return running(pid);
};

describe('LocalHostFiles: content and mode drift', () => {
  it('writes missing files with the mode, then finds nothing to do', async () => {
    // Act
    const first = await host.write(placement, files);
    const second = await host.write(placement, files);
    // Assess
    expect(first).toEqual([
      { name: 'server.crt', change: FileChange.Content },
      { name: 'server.key', change: FileChange.Content },
    ]);
    expect(second).toEqual([]);
    expect(await modeOf('server.key')).toBe(0o600);
  });

  it('a key chmod-ed to 0644 is drift: check reports it, write sets the mode back without rewriting the file', async () => {
    // Prepare
    await host.write(placement, files);
    const path = join(placement.dir, 'server.key');
    await chmod(path, 0o644);
    const inode = (await stat(path)).ino;
    // Act
    const seen = await host.check(placement, files);
    const repaired = await host.write(placement, files);
    // Assess
    expect(seen).toEqual([{ name: 'server.key', change: FileChange.Mode }]);
    expect(repaired).toEqual(seen);
    expect(await modeOf('server.key')).toBe(0o600);
    expect((await stat(path)).ino).toBe(inode);
  });

  it('a new mode in the inventory applies to unchanged files', async () => {
    // Prepare
    await host.write(placement, files);
    // Act
    const changed = await host.write({ ...placement, mode: 0o640 }, files);
    // Assess
    expect(changed.map((d) => d.change)).toEqual([FileChange.Mode, FileChange.Mode]);
    expect(await modeOf('server.crt')).toBe(0o640);
    expect(await modeOf('server.key')).toBe(0o640);
  });
});

describe('LocalHostFiles: reload', () => {
  it('runs the command through sh -c', async () => {
    // Act
    await host.reload(`echo ok > '${join(root, 'ran')}' && test -n "$HOME$PATH"`, { timeoutMs: 10_000 });
    // Assess
    expect(await readFile(join(root, 'ran'), 'utf8')).toBe('ok\n');
  });

  it('a failing command names its exit status and output sizes, never the output; a printed key is scrubbed from the log', async () => {
    // Prepare
    await writeFile(join(root, 'key.pem'), KEY);
    // Act
    const error = await host
      .reload(`cat '${join(root, 'key.pem')}'; cat '${join(root, 'key.pem')}' >&2; exit 3`, { timeoutMs: 10_000 })
      .catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ReloadError);
    const message = (error as Error).message;
    expect(message).toMatch(/exited 3/);
    expect(message).toMatch(new RegExp(`${KEY.length} byte\\(s\\) on stdout, ${KEY.length} on stderr`));
    expect(message).not.toContain('PRIVATE KEY');
    expect(message).not.toContain('SECRET');
    const log = await readFile(join(state, HostFilesState.log), 'utf8');
    expect(log).toContain('[PRIVATE KEY removed]');
    expect(log).not.toContain('SECRET');
    expect((await stat(join(state, HostFilesState.log))).mode & 0o777).toBe(0o600);
  });

  it('a hanging command is stopped at its timeout, with everything it started', async () => {
    // Prepare: the reload starts a child of its own and waits for it
    const pidFile = join(root, 'sleep.pid');
    // Act
    const error = await host.reload(`sleep 600 & echo $! > '${pidFile}'; wait`, { timeoutMs: 500 }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ReloadError);
    expect((error as Error).message).toMatch(/timed out after 0.5s \(process group killed\)/);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    expect(pid).toBeGreaterThan(0);
    expect(await alive(pid)).toBe(false);
  });

  it('a command that ignores SIGTERM is killed too', async () => {
    // Act
    const error = await host
      .reload(`trap '' TERM; sleep 600 & echo $! > '${join(root, 'p')}'; while :; do wait; done`, { timeoutMs: 300 })
      .catch((e: unknown) => e);
    // Assess
    expect((error as Error).message).toMatch(/timed out/);
    expect(await alive(Number((await readFile(join(root, 'p'), 'utf8')).trim()))).toBe(false);
  });

  it("the caller's signal cancels a reload", async () => {
    // Prepare
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    // Act
    const error = await host.reload('sleep 600', { timeoutMs: 60_000, signal: controller.signal }).catch((e: unknown) => e);
    // Assess
    expect((error as Error).message).toMatch(/cancelled/);
  });
});

describe('scrubPem', () => {
  it.each([
    ['a whole key', `before\n${KEY}after`, 'before\n[PRIVATE KEY removed]\nafter'],
    ['an RSA key', '-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----', '[RSA PRIVATE KEY removed]'],
    ['a key cut off before its end line', 'x -----BEGIN PRIVATE KEY-----\nMIGHAg', 'x [PRIVATE KEY removed]'],
    ['plain text', 'Syntax OK', 'Syntax OK'],
  ])('%s', (_name, input, expected) => {
    expect(scrubPem(input)).toBe(expected);
  });
});

describe('JsonReloadLedger', () => {
  it('keeps an owed reload across instances until it is settled, counting failures', async () => {
    // Prepare
    const at = new Date('2026-01-01T00:00:00Z');
    // Act
    await host.ledger.owe('inv', 'reload-a', ['b', 'a'], at);
    await host.ledger.owe('inv', 'reload-a', ['c'], at);
    await new LocalHostFiles({ stateDir: state }).ledger.failed('inv', 'reload-a', 'exited 1');
    const owed = await new LocalHostFiles({ stateDir: state }).ledger.owed('inv');
    const other = await host.ledger.owed('other');
    await host.ledger.settle('inv', 'reload-a');
    // Assess
    expect(owed).toEqual([
      { inventory: 'inv', command: 'reload-a', units: ['a', 'b', 'c'], since: at.toISOString(), attempts: 1, lastError: 'exited 1' },
    ]);
    expect(other).toEqual([]);
    expect(await host.ledger.owed('inv')).toEqual([]);
    expect((await stat(join(state, HostFilesState.ledger))).mode & 0o777).toBe(0o600);
  });
});
