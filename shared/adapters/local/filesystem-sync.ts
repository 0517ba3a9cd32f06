import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

type Shell = ChildProcessByStdio<Writable, Readable, null>;

/**
 * One shell, started on first use, that runs coreutils' `sync -f` (syncfs(2)) for each folder written to its
 * standard input and answers `ok` or `fail` in order. Node has no syncfs, and spawning a process per sync forks
 * this whole process on the main thread (about 14 ms each at 300 MB); forking the small shell costs nothing here.
 * The shell ends when this process does (its standard input closes).
 */
class FilesystemSyncer {
  private child: Shell | undefined;
  private readonly waiting: Array<(ok: boolean) => void> = [];
  private broken = process.platform !== 'linux';

  sync(dir: string): Promise<boolean> {
    if (this.broken || dir.includes('\n')) return Promise.resolve(false);
    const child = this.start();
    return new Promise<boolean>((resolve) => {
      this.waiting.push(resolve);
      this.hold(true);
      child.stdin.write(`${dir}\n`);
    });
  }

  private start(): Shell {
    if (this.child) return this.child;
    // The command's path, found once: a bare name would be looked up along PATH for every folder (failed execs).
    const command = ['/usr/bin/sync', '/bin/sync'].find((p) => existsSync(p)) ?? 'sync';
    const child = spawn('sh', ['-c', 'while IFS= read -r d; do if "$0" -f -- "$d"; then echo ok; else echo fail; fi; done', command], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    createInterface({ input: child.stdout }).on('line', (line) => this.answer(line === 'ok'));
    const fail = () => {
      this.broken = true;
      this.child = undefined;
      while (this.waiting.length) this.answer(false);
    };
    child.on('error', fail);
    child.on('exit', fail);
    child.stdin.on('error', fail);
    this.child = child;
    this.hold(false);
    return child;
  }

  private answer(ok: boolean): void {
    this.waiting.shift()?.(ok);
    if (this.waiting.length === 0) this.hold(false);
  }

  /** Keeps the process alive only while a sync is outstanding: an idle shell must not hold the CLI open. */
  private hold(busy: boolean): void {
    const c = this.child;
    if (!c) return;
    // Its pipes are sockets (spawn makes them so), each holding the event loop like the process itself.
    for (const h of [c, c.stdin as unknown as Socket, c.stdout as unknown as Socket])
      if (busy) h.ref();
      else h.unref();
  }
}

const syncer = new FilesystemSyncer();

/**
 * syncfs(2) of the filesystems holding `dirs`: every file written there is durable once it succeeds, with write
 * errors reported (Linux 5.8+). false when it is not available or fails: the caller then fsyncs each file, which
 * reports the error where it belongs.
 */
export async function syncFilesystems(dirs: readonly string[]): Promise<boolean> {
  const results = await Promise.all(dirs.map((d) => syncer.sync(d)));
  return results.every(Boolean);
}
