// Host files through the use cases: a reload is owed until it succeeds (apply, plan, status and rotations see it),
// and modes are drift. Real files and real `sh` processes in a temp folder.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalHostFiles } from '../../../shared/adapters/local/host-files.js';
import { apply } from '../../../shared/app/apply.js';
import type { Deps } from '../../../shared/app/deps.js';
import { plan } from '../../../shared/app/plan.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { status } from '../../../shared/app/status.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

let root: string;
let tls: string;
let rt: TestRuntime;
let deps: Deps;
let behaviour: string;

/** The reload: does what the file `behaviour` says (ok | fail), and counts its successful runs. */
const inventoryWith = (mode = '0600') =>
  loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: host}
authorities:
  - {name: ca, commonName: ca, key: ECDSA-P256}
certificates:
  - name: proxy
    issuer: ca
    usage: server
    commonName: proxy
    dnsNames: [proxy]
    files: {dir: ${tls}, cert: server.crt, key: server.key, mode: "${mode}", reload: "sh ${root}/reload.sh", reloadTimeout: 5s}
`);

const reloads = async () => (await readFile(join(root, 'reloads'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
const keyMode = async () => (await stat(join(tls, 'server.key'))).mode & 0o777;
const actionsOf = async (inv: Inventory) => (await plan(deps, inv)).actions.map((a) => `${a.action} ${a.kind} ${a.reason}`);

beforeEach(async () => {
  root = await makeTempDir('rekey-host-sync-');
  tls = join(root, 'tls');
  behaviour = join(root, 'behaviour');
  await writeFile(behaviour, 'ok');
  await writeFile(
    join(root, 'reload.sh'),
    `case "$(cat '${behaviour}')" in
  ok) echo run >> '${root}/reloads' ;;
  fail) cat '${tls}/server.key'; exit 1 ;;
esac
`,
  );
  const inv = inventoryWith();
  rt = localRuntime(inv, root);
  await mkdir(rt.stateDir, { recursive: true });
  deps = { ...rt.deps, hostFiles: new LocalHostFiles({ stateDir: rt.stateDir }) };
});
afterEach(() => removeTempDir(root));

describe('host files: owed reloads', () => {
  it('a failing reload stays owed: every apply runs it again (exit 1 each time) until it succeeds, then never again', async () => {
    // Prepare
    const inv = inventoryWith();
    await writeFile(behaviour, 'fail');
    // Act
    const first = await apply(deps, inv);
    const second = await apply(deps, inv);
    const planned = await actionsOf(inv);
    const owed = (await status(deps, inv)).find((s) => s.name === 'proxy')?.reloadOwed;
    await writeFile(behaviour, 'ok');
    const third = await apply(deps, inv);
    const fourth = await apply(deps, inv);
    // Assess
    expect(first.problems).toEqual([
      expect.stringMatching(
        /^reload owed for proxy \(files written, not served yet\): reload command "sh .*reload\.sh" exited 1 \(\d+ byte/,
      ),
    ]);
    expect(second.problems).toHaveLength(1);
    expect(second.sync.files[0]?.written).toEqual([]);
    expect(planned).toEqual(['reload reload ReloadOwed']);
    expect(owed).toMatchObject({ command: `sh ${root}/reload.sh`, attempts: 2, lastError: expect.stringMatching(/exited 1/) });
    expect(third.problems).toEqual([]);
    expect(third.sync.reloads).toEqual([expect.objectContaining({ result: 'succeeded', reason: 'ReloadOwed' })]);
    expect(fourth.sync.reloads).toEqual([]);
    expect(await reloads()).toBe(1);
    expect(await actionsOf(inv)).toEqual([]);
    expect((await status(deps, inv)).every((s) => s.reloadOwed === undefined)).toBe(true);
  });

  it('the reload output (here a private key) never reaches the problems, the plan or the status', async () => {
    // Prepare
    await apply(deps, inventoryWith());
    await writeFile(behaviour, 'fail');
    await chmod(join(tls, 'server.key'), 0o600);
    await writeFile(join(tls, 'server.crt'), 'edited by hand');
    // Act
    const applied = await apply(deps, inventoryWith());
    const shown = JSON.stringify([applied, await plan(deps, inventoryWith()), await status(deps, inventoryWith())]);
    // Assess
    expect(applied.problems).toHaveLength(1);
    expect(shown).not.toContain('PRIVATE KEY');
  });

  it('a rotation whose reload fails does not complete; the next apply reloads', async () => {
    // Prepare
    const inv = inventoryWith();
    await apply(deps, inv);
    await writeFile(behaviour, 'fail');
    // Act
    const record = await startRotation(deps, inv, 'proxy', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(deps, inv, rt.queue);
    const final = await rt.journal.get(record.id);
    const owedAfter = await deps.hostFiles!.ledger.owed('host');
    await writeFile(behaviour, 'ok');
    const applied = await apply(deps, inv);
    // Assess
    expect(final?.status).toBe(RotationStatus.Failed);
    expect(final?.error).toMatch(/not reloaded .*exited 1/);
    expect(owedAfter).toHaveLength(1);
    expect(applied.sync.reloads.map((r) => r.result)).toEqual(['succeeded']);
    expect(await reloads()).toBe(2);
  });

  it('a rotation runs a reload still owed from an earlier run even if its own files need no other reload', async () => {
    // Prepare: a reload owed from a run that died after writing the files
    const inv = inventoryWith();
    await apply(deps, inv);
    await deps.hostFiles!.ledger.owe('host', `sh ${root}/reload.sh`, ['proxy'], new Date());
    // Act
    const record = await startRotation(deps, inv, 'proxy', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(deps, inv, rt.queue);
    // Assess
    expect((await rt.journal.get(record.id))?.status).toBe(RotationStatus.Completed);
    expect(await deps.hostFiles!.ledger.owed('host')).toEqual([]);
  });
});

describe('host files: modes are drift', () => {
  it('a key chmod-ed to 0644 shows in plan and goes back to the inventory mode on apply, without a reload', async () => {
    // Prepare
    const inv = inventoryWith();
    await apply(deps, inv);
    await chmod(join(tls, 'server.key'), 0o644);
    // Act
    const planned = (await plan(deps, inv)).actions;
    const applied = await apply(deps, inv);
    // Assess
    expect(planned).toEqual([{ action: 'chmod', kind: 'file', name: 'proxy', reason: 'ModeDrifted', path: join(tls, 'server.key') }]);
    expect(applied.sync.files[0]).toMatchObject({ written: [], chmodded: ['server.key'], reloaded: false });
    expect(await keyMode()).toBe(0o600);
    expect(await reloads()).toBe(1);
  });

  it('a new mode in the inventory applies without a content change', async () => {
    // Prepare
    await apply(deps, inventoryWith());
    // Act
    const planned = await actionsOf(inventoryWith('0640'));
    await apply(deps, inventoryWith('0640'));
    // Assess
    expect(planned).toEqual(['chmod file ModeDrifted', 'chmod file ModeDrifted']);
    expect(await keyMode()).toBe(0o640);
    expect(await actionsOf(inventoryWith('0640'))).toEqual([]);
  });
});
