import { spawn } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { RekeyError } from '../../domain/errors.js';
import type { ReloadOptions } from '../../ports/host-files.js';
import { defined } from '../../domain/defined.js';

/** A reload that exited non-zero, timed out or could not start. Names sizes and the log, never the output. */
export class ReloadError extends RekeyError {}

/** Time between SIGTERM and SIGKILL for a reload's process group. */
const KILL_GRACE_MS = 2_000;
/** Output kept per stream for the log; the rest is only counted. */
const KEEP_BYTES = 256 * 1024;
/** After the shell exits, how long its pipes may stay open (a daemon started by the reload may hold them). */
const DRAIN_MS = 1_000;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(?:-----END \1-----|$)/g;

/** Replaces every PEM block (keys above all) by a marker, so a reload that prints a key cannot leak it. */
export function scrubPem(text: string): string {
  return text.replace(PEM_BLOCK, (_m, label: string) => `[${label} removed]`);
}

interface Captured {
  bytes: number;
  kept: Buffer[];
  keptBytes: number;
}

function capture(stream: NodeJS.ReadableStream): Captured {
  const c: Captured = { bytes: 0, kept: [], keptBytes: 0 };
  stream.on('data', (d: Buffer) => {
    c.bytes += d.length;
    if (c.keptBytes < KEEP_BYTES) {
      const part = d.subarray(0, KEEP_BYTES - c.keptBytes);
      c.kept.push(part);
      c.keptBytes += part.length;
    }
  });
  return c;
}

/**
 * Runs `command` through `sh -c` as the leader of a new process group, so a timeout (or the caller's signal) can
 * kill the shell and everything it started: SIGTERM, then SIGKILL after a grace period. Output goes to `logPath`
 * (mode 0600), PEM blocks scrubbed; the error says exit status, timeout and byte counts only.
 */
export function runReload(command: string, options: ReloadOptions & { logPath: string }): Promise<void> {
  const started = new Date();
  return new Promise<void>((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = capture(defined(child.stdout));
    const err = capture(defined(child.stderr));
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const deadline = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    let settled = false;
    const finish = async (code: number | null, signal: NodeJS.Signals | null, startError?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      // Whatever the shell left behind in its group goes with it (a reload must not leave a hanging child).
      if (timedOut || aborted) killGroup('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      const how = startError
        ? `could not start (${startError.message})`
        : timedOut
          ? `timed out after ${options.timeoutMs / 1000}s (process group killed)`
          : aborted
            ? 'was cancelled (process group killed)'
            : signal
              ? `was killed by ${signal}`
              : `exited ${code}`;
      const sizes = `${out.bytes} byte(s) on stdout, ${err.bytes} on stderr`;
      const log = [
        `--- ${started.toISOString()} reload: ${command}`,
        ...(out.keptBytes ? ['[stdout]', scrubPem(Buffer.concat(out.kept).toString('utf8'))] : []),
        ...(err.keptBytes ? ['[stderr]', scrubPem(Buffer.concat(err.kept).toString('utf8'))] : []),
        `--- ${how}; ${sizes}`,
        '',
      ].join('\n');
      const logged = await appendFile(options.logPath, log, { mode: 0o600 }).then(
        () => true,
        () => false,
      );
      if (code === 0 && !timedOut && !aborted && !startError) {
        resolve();
        return;
      }
      const where = logged ? `, output in ${options.logPath}` : '';
      reject(
        new ReloadError(`reload command "${command}" ${how} (${sizes}${where})`, {
          context: { command },
          ...(startError && { cause: startError }),
        }),
      );
    };
    child.on('error', (e) => void finish(null, null, e));
    child.on('exit', (code, signal) => {
      // 'close' waits for the pipes, which a daemon the reload started may hold for good: give them a moment.
      const drained = setTimeout(() => void finish(code, signal), DRAIN_MS);
      drained.unref();
      child.on('close', () => {
        clearTimeout(drained);
        void finish(code, signal);
      });
    });
  });
}
