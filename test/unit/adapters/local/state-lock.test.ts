import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootId, selfIdentity, startTicksOf } from '../../../../shared/adapters/local/process-identity.js';
import { lockState, StateLockedError } from '../../../../shared/adapters/local/state-lock.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

let state: string;
let unrelated: ChildProcess;
const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
const record = (fields: Record<string, unknown>) =>
  JSON.stringify({ host: hostname(), bootId: bootId(), nonce: 'n-1', acquiredAt: '2026-01-01T00:00:00.000Z', ...fields });

beforeAll(() => {
  unrelated = spawn('sleep', ['600'], { stdio: 'ignore' });
});
afterAll(() => {
  unrelated.kill('SIGKILL');
});
beforeEach(async () => {
  state = await makeTempDir('rekey-state-lock-');
});
afterEach(() => removeTempDir(state));

describe('lockState', () => {
  it('a live holder is refused, named by pid and process start time; after release the folder is free and clean', async () => {
    // Prepare
    const release = await lockState(state);
    // Act
    const second = await lockState(state).catch((e: unknown) => e);
    await release();
    const again = await lockState(state);
    await again();
    // Assess
    expect(second).toBeInstanceOf(StateLockedError);
    expect((second as Error).message).toMatch(
      new RegExp(
        `is locked by rekey pid ${process.pid} \\(process started \\d{4}-\\d\\d-\\d\\dT.*Z, lock taken .*, host ${hostname()}\\); try again when it has finished`,
      ),
    );
    expect((second as StateLockedError).retryable).toBe(true);
    expect(readdirSync(state)).toEqual([]);
  });

  it('the lock file holds pid, start time, boot id and host, written whole (mode 0600)', async () => {
    // Act
    const release = await lockState(state);
    const held = JSON.parse(readFileSync(join(state, 'lock'), 'utf8')) as Record<string, unknown>;
    await release();
    // Assess
    expect(held).toMatchObject({ pid: process.pid, startTicks: startTicksOf(process.pid), bootId: bootId(), host: hostname() });
    expect(held.nonce).toEqual(expect.any(String));
  });

  it.each([
    ['its pid is gone', () => record({ pid: deadPid(), startTicks: 1 })],
    [
      'its pid was reused by an unrelated live process (other start time)',
      () => record({ pid: unrelated.pid, startTicks: startTicksOf(unrelated.pid!)! - 1 }),
    ],
    ['it was taken before the last boot', () => record({ ...selfIdentity(), bootId: '00000000-0000-0000-0000-000000000000' })],
    ['an older rekey left a bare pid that is gone', () => String(deadPid())],
    ['an older rekey left a bare pid now used by a process that is not rekey', () => String(unrelated.pid)],
  ])('a stale lock is taken over when %s', async (_label, content) => {
    // Prepare
    writeFileSync(join(state, 'lock'), content());
    // Act
    const release = await lockState(state);
    const held = JSON.parse(readFileSync(join(state, 'lock'), 'utf8')) as { pid: number };
    await release();
    // Assess
    expect(held.pid).toBe(process.pid);
    expect(existsSync(join(state, 'lock'))).toBe(false);
  });

  it('a holder on another host cannot be checked: refused, saying which file to remove if it is gone', async () => {
    // Prepare
    writeFileSync(join(state, 'lock'), record({ pid: deadPid(), host: 'elsewhere.example' }));
    // Act
    const e = await lockState(state).catch((x: unknown) => x);
    // Assess
    expect(e).toBeInstanceOf(StateLockedError);
    expect((e as Error).message).toMatch(
      /host elsewhere\.example\); that host cannot be checked from here; if that process is gone, remove .*\/lock$/,
    );
  });

  it('an older rekey bare pid that is a live rekey-like process started before the lock is respected', async () => {
    // Prepare: this (node) process, started before the file was written
    writeFileSync(join(state, 'lock'), String(process.pid));
    // Act
    const e = await lockState(state).catch((x: unknown) => x);
    // Assess
    expect(e).toBeInstanceOf(StateLockedError);
    expect((e as Error).message).toMatch(new RegExp(`locked by rekey pid ${process.pid} \\(process started `));
  });

  it('a breaker killed half-way does not block: the next one takes over, and the breakers are cleared', async () => {
    // Prepare: a stale lock, and a breaker of it whose process died before it removed the lock
    writeFileSync(join(state, 'lock'), record({ pid: deadPid(), nonce: 'stale-1' }));
    writeFileSync(join(state, 'lock.break.stale-1.1'), JSON.stringify({ pid: deadPid(), host: hostname(), bootId: bootId() }));
    // Act
    const release = await lockState(state);
    const files = readdirSync(state);
    await release();
    // Assess
    expect(files).toEqual(['lock']);
    expect(readdirSync(state)).toEqual([]);
  });

  it('release removes only its own lock', async () => {
    // Prepare: the lock was (wrongly) replaced by someone else's meanwhile
    const release = await lockState(state);
    writeFileSync(join(state, 'lock'), record({ pid: process.pid, nonce: 'someone-else' }));
    // Act
    await release();
    // Assess
    expect(JSON.parse(readFileSync(join(state, 'lock'), 'utf8'))).toMatchObject({ nonce: 'someone-else' });
  });
});
