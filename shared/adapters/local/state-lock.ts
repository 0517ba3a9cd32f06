import { randomUUID } from 'node:crypto';
import { link, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempPathOf } from './atomic-file.js';
import { ConflictError, RekeyError } from '../../domain/errors.js';
import { Liveness, livenessOf, selfIdentity, startedAt, startTicksOf, type ProcessIdentity } from './process-identity.js';

/**
 * One writer per state folder, across processes, without flock (Node has none):
 *
 * - `<state>/lock` is created with link(2) from a complete temporary file, so it either does not exist or holds
 *   its whole record (pid, process start time, boot id, host, a random nonce); link fails with EEXIST if it exists.
 * - A lock whose holder is gone (pid dead, pid reused by a process with another start time, or another boot) is
 *   broken by whoever first creates `<state>/lock.break.<nonce>.<n>` (O_EXCL): that winner re-reads the lock and
 *   unlinks it only if it still carries the stale nonce. Nonces are never reused and only a breaker of a nonce
 *   removes a lock it does not hold, so a live lock is never removed by a slow process that judged an older one
 *   stale (the flaw of "rename the stale lock away": the rename may move a fresh lock created in between).
 *   A breaker that died before unlinking is itself judged by its identity, and the next one takes number n+1.
 * - Holders on another host (a shared folder) cannot be checked and are never taken over.
 */
const LOCK_FILE = 'lock';
const BREAKER_PREFIX = 'lock.break.';
const ATTEMPTS = 50;

interface LockRecord extends ProcessIdentity {
  readonly nonce: string;
  readonly acquiredAt: string;
}

/** What is found at `<state>/lock`: a record, or an older rekey's bare pid (no nonce: its file identity stands in). */
interface Holder {
  readonly record: Partial<LockRecord> & { pid: number };
  readonly key: string;
  readonly legacy: boolean;
  readonly mtimeMs: number;
}

/** The state folder is held by another process (named by pid and start time). */
export class StateLockedError extends RekeyError {
  constructor(stateDir: string, holder: Holder, liveness: Liveness) {
    const r = holder.record;
    const started = startedAt(r.startTicks ?? startTicksOf(r.pid));
    const facts = [
      started && `process started ${started.toISOString()}`,
      r.acquiredAt && `lock taken ${r.acquiredAt}`,
      r.host && `host ${r.host}`,
    ].filter(Boolean);
    const advice =
      liveness === Liveness.Unknown
        ? `that host cannot be checked from here; if that process is gone, remove ${join(stateDir, LOCK_FILE)}`
        : 'try again when it has finished';
    super(`state folder ${stateDir} is locked by rekey pid ${r.pid}${facts.length ? ` (${facts.join(', ')})` : ''}; ${advice}`, {
      retryable: true,
      context: { path: stateDir, holderPid: r.pid },
    });
  }
}

const isCode = (e: unknown, code: string): boolean => (e as NodeJS.ErrnoException).code === code;

async function readHolder(path: string): Promise<Holder | undefined> {
  let text: string;
  let info: { ino: number; mtimeMs: number };
  try {
    [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch (e) {
    if (isCode(e, 'ENOENT')) return undefined;
    throw e;
  }
  const fileKey = `f${info.ino}-${Math.floor(info.mtimeMs)}`;
  try {
    const record = JSON.parse(text) as (Partial<LockRecord> & { pid: number }) | null;
    if (typeof record === 'object' && record && typeof record.nonce === 'string' && /^[\w-]+$/.test(record.nonce)) {
      return { record, key: record.nonce, legacy: false, mtimeMs: info.mtimeMs };
    }
  } catch {
    // not JSON: an older rekey's lock holds a bare pid
  }
  return { record: { pid: Number(text.trim()) || 0 }, key: fileKey, legacy: true, mtimeMs: info.mtimeMs };
}

/** Whether a legacy lock's live pid is a rekey at all, and one that started before the lock was written. */
async function legacyLiveness(holder: Holder): Promise<Liveness> {
  const liveness = livenessOf(holder.record);
  if (liveness !== Liveness.Alive) return liveness;
  const started = startedAt(startTicksOf(holder.record.pid));
  if (started && started.getTime() > holder.mtimeMs + 1000) return Liveness.Gone; // pid reused after the lock was written
  const cmdline = await readFile(`/proc/${holder.record.pid}/cmdline`, 'utf8').catch(() => undefined);
  if (cmdline !== undefined && !/node|rekey|tsx/.test(cmdline)) return Liveness.Gone;
  return Liveness.Alive;
}

const judge = (holder: Holder): Promise<Liveness> | Liveness => (holder.legacy ? legacyLiveness(holder) : livenessOf(holder.record));

/**
 * Creates `path` holding `content`, or returns false if it exists: link(2) from a complete temporary file, so a
 * reader never sees it empty (an empty breaker would look dead and let a second breaker in).
 */
async function createComplete(path: string, content: string): Promise<boolean> {
  // Named like writeFileAtomic's temporaries, so removeStaleTemps clears what a kill leaves here.
  const tmp = tempPathOf(path);
  await writeFile(tmp, content, { flag: 'wx', mode: 0o600 });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if (isCode(e, 'EEXIST')) return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Tries to become the one process that removes the stale lock `holder`; returns once that was tried. */
async function breakStale(stateDir: string, holder: Holder, self: ProcessIdentity): Promise<void> {
  for (let n = 1; ; n++) {
    const breaker = join(stateDir, `${BREAKER_PREFIX}${holder.key}.${n}`);
    if (!(await createComplete(breaker, JSON.stringify(self)))) {
      const text = await readFile(breaker, 'utf8').catch(ignoreMissing);
      // Gone: a new holder removed the breakers, so the stale lock is gone too.
      if (text === undefined) return;
      if (livenessOf(JSON.parse(text) as ProcessIdentity) !== Liveness.Gone) return; // a live process is breaking it
      continue; // that breaker died before it finished: the next number
    }
    const now = await readHolder(join(stateDir, LOCK_FILE));
    if (now?.key === holder.key) await unlink(join(stateDir, LOCK_FILE)).catch(ignoreMissing);
    // The stale lock is gone for good now (nonces are never reused): this breaker guards nothing any more.
    await rm(breaker, { force: true });
    return;
  }
}

/** Breakers of locks that no longer exist; only the holder of the lock removes them (see the protocol above). */
async function removeBreakers(stateDir: string): Promise<void> {
  const names = await readdir(stateDir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith(BREAKER_PREFIX)).map((n) => rm(join(stateDir, n), { force: true })));
}

/**
 * Takes `<state>/lock` (the folder must exist) or throws StateLockedError naming the holder. Returns the release
 * function, which removes the lock only while it is still this one.
 */
export async function lockState(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, LOCK_FILE);
  const self = selfIdentity();
  const record: LockRecord = { ...self, nonce: randomUUID(), acquiredAt: new Date().toISOString() };
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (await createComplete(path, JSON.stringify(record))) {
      await removeBreakers(stateDir);
      return () => releaseState(path, record.nonce);
    }
    const holder = await readHolder(path);
    if (!holder) continue;
    const liveness = await judge(holder);
    if (liveness !== Liveness.Gone) throw new StateLockedError(stateDir, holder, liveness);
    await breakStale(stateDir, holder, self);
    // Another process may be breaking the same stale lock: give it a moment before looking again.
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
  }
  throw new ConflictError(`the lock of ${stateDir} kept changing hands; try again`, { path: stateDir });
}

async function releaseState(path: string, nonce: string): Promise<void> {
  const holder = await readHolder(path);
  if (holder?.key === nonce) await rm(path, { force: true });
}

/** A catch handler: a file already gone is nothing to report; anything else is thrown on. */
function ignoreMissing(e: unknown): undefined {
  if (isCode(e, 'ENOENT')) return undefined;
  throw e;
}
