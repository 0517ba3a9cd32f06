import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

/** An inventory whose plan, status and apply print far more than a pipe holds (64 KiB). */
function bigInventory(name: string, certificates: number): string {
  const lines = [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    `metadata: {name: ${name}}`,
    'authorities: [{name: ca, commonName: ca}]',
    'certificates:',
  ];
  for (let i = 0; i < certificates; i++)
    lines.push(`  - {name: web-${i}, issuer: ca, usage: server, commonName: web-${i}, secret: {name: web-${i}, namespace: shop}}`);
  return lines.join('\n') + '\n';
}

/**
 * `rekey ARGV | (sleep; cat)` through a shell: a reader that starts late lets the pipe fill, as `| cat` or `| jq` on
 * a busy machine does. Returns what came through and the CLI's exit status.
 */
function pipeThroughSlowReader(entry: string, argv: readonly string[]): Promise<{ stdout: string; code: number; stderr: string }> {
  const quoted = [process.execPath, ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), entry, ...argv]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${quoted} | (sleep 0.5; cat)`], {
      cwd: REPO_ROOT,
      env: { ...process.env, REKEY_VAULT_KEY: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, code: code ?? -1, stderr }));
  });
}

let root: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-drain-');
});
afterAll(() => removeTempDir(root));

describe('CLI output through a pipe is never cut short', () => {
  it.each([
    ['bin/rekey.js', 'plan'],
    ['cli/main.ts', 'plan'],
    ['bin/rekey.js', 'status'],
  ])(
    '%s --json %s of 1,500 certificates prints one complete JSON document (> 64 KiB)',
    async (entry, command) => {
      // Prepare
      const file = join(root, `big-${command}.yaml`);
      writeFileSync(file, bigInventory('big', 1500));
      const args = [
        '--json',
        '--state',
        join(root, `state-${command}`),
        command,
        '-f',
        file,
        ...(command === 'plan' ? ['--out', join(root, 'out-plan')] : []),
      ];
      // Act
      const r = await pipeThroughSlowReader(join(REPO_ROOT, entry), args);
      // Assess
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(65_536);
      const doc = JSON.parse(r.stdout) as { actions?: unknown[]; items?: unknown[] };
      expect((doc.actions ?? doc.items)!.length).toBeGreaterThanOrEqual(1500);
    },
    60_000,
  );

  it('apply --json of 200 certificates prints one complete JSON document (> 64 KiB)', async () => {
    // Prepare
    const file = join(root, 'apply.yaml');
    writeFileSync(file, bigInventory('applied', 200));
    // Act
    const r = await pipeThroughSlowReader(join(REPO_ROOT, 'bin/rekey.js'), [
      '--json',
      '--state',
      join(root, 'state-apply'),
      'apply',
      '-f',
      file,
      '--out',
      join(root, 'out-apply'),
    ]);
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(65_536);
    expect(() => JSON.parse(r.stdout) as unknown).not.toThrow();
  }, 120_000);
});
