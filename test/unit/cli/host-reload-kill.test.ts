// A `rekey apply` SIGKILLed while its reload runs (files already written) loses nothing: the reload was recorded
// as owed before the files changed, so the next apply runs it although no file differs any more.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMain } from '../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

let root: string;
beforeEach(async () => {
  root = await makeTempDir('rekey-reload-kill-');
});
afterEach(() => removeTempDir(root));

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('apply killed during a reload', () => {
  it('the next apply runs the owed reload, although the files are already in place', async () => {
    // Prepare
    const behaviour = join(root, 'behaviour');
    const shellPid = join(root, 'shell.pid');
    writeFileSync(behaviour, 'hang');
    writeFileSync(
      join(root, 'reload.sh'),
      `case "$(cat '${behaviour}')" in
  hang) echo $$ > '${shellPid}'; sleep 600 ;;
  ok) echo run >> '${root}/reloads' ;;
esac
`,
    );
    const inventory = join(root, 'inventory.yaml');
    writeFileSync(
      inventory,
      `apiVersion: rekey/v1
kind: Inventory
metadata: {name: killed}
authorities:
  - {name: ca, commonName: ca, key: ECDSA-P256}
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, files: {dir: ${join(root, 'tls')}, cert: web.crt, key: web.key, reload: "sh ${join(root, 'reload.sh')}"}}
`,
    );
    const args = ['apply', '-f', inventory, '--state', join(root, 'state')];
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli/main.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await until(() => existsSync(shellPid) && readFileSync(shellPid, 'utf8').trim() !== '', 'the reload to start');

    // Act: kill rekey in the middle of its reload, then clear away the orphaned reload as an operator would
    child.kill('SIGKILL');
    const signal = await exited;
    const stat = readFileSync(`/proc/${readFileSync(shellPid, 'utf8').trim()}/stat`, 'utf8');
    const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    process.kill(-group, 'SIGKILL');
    writeFileSync(behaviour, 'ok');
    const again = await runMain(args);

    // Assess
    expect(signal).toBe('SIGKILL');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/files -> /);
    expect(again.stdout).toContain(`owed reload done: sh ${join(root, 'reload.sh')}`);
    expect(readFileSync(join(root, 'reloads'), 'utf8')).toBe('run\n');
  }, 120_000);
});
