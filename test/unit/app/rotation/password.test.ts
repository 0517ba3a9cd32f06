import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { recover } from '../../../../shared/app/recover.js';
import { driveRotations, startRotation } from '../../../../shared/app/rotation/index.js';
import { scan } from '../../../../shared/app/scan.js';
import { executeLeasedStep } from '../../../../shared/app/rotation/lease.js';
import { scramSha256Verifier } from '../../../../shared/domain/credentials/scram.js';
import { EventType } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { PasswordStep } from '../../../../shared/domain/rotation/machines.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { decodeMaterial, type PasswordMaterial } from '../../../../shared/domain/store/material.js';
import type { Cluster, WorkloadControl } from '../../../../shared/ports/cluster.js';
import { DatabaseError } from '../../../../shared/ports/database.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { FakeDatabase } from '../../../fixtures/fake-database.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/**
 * The password machine (seed 001) on the embedded runtime with a fake PostgreSQL (SCRAM verifiers checked as the
 * server does) and a fake owner object: pause, set, test, promote, sync, restart, resume, verify; both strategies;
 * failures set the database back and resume the owner; no password ever leaves the store and the Secret.
 */

const inventoryText = (strategy: 'single' | 'alternating', extra = '') => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}]
credentials:
  - name: app-db
    type: password
    rotateEvery: 720h
    secret: {name: app-db, namespace: db}
    database: {engine: postgres, urlFrom: "env:FAKE_PG_URL", role: app, strategy: ${strategy}, host: pg.db.svc, port: 5432, dbname: shop}
    pause:
      object: {apiVersion: kubedb.com/v1, kind: Postgres, name: pg}
      patch: {metadata: {annotations: {rekey/paused: "true"}}}
      resume: {metadata: {annotations: {rekey/paused: null}}}
    consumers: [StatefulSet/pg]
${extra}`;
const STORE = 'rekey/shop/app-db';
const INITIAL = 'initial-password-not-known-to-rekey';
const ALL_STEPS = Object.values(PasswordStep);

class DiedHere extends Error {}

interface Harness {
  rt: TestRuntime;
  deps: Deps;
  db: FakeDatabase;
  inventory: Inventory;
  /** What happened, in order: owner patches and database calls. */
  timeline: string[];
  paused: () => boolean;
  logLines: string[];
}

let root: string;
let clock: Date;

beforeEach(async () => {
  root = await makeTempDir('rekey-password-');
  clock = new Date('2026-06-01T00:00:00Z');
});
afterEach(() => removeTempDir(root));

function harness(strategy: 'single' | 'alternating'): Harness {
  const inventory = loadInventory(inventoryText(strategy));
  const rt = localRuntime(inventory, root, { now: () => clock });
  const timeline: string[] = [];
  const db = new FakeDatabase().withRole('app', INITIAL, (p) => scramSha256Verifier(p));
  db.before = (call, role) => void timeline.push(`db:${call}${role ? `:${role}` : ''}`);
  let paused = false;
  const workloads: WorkloadControl = {
    selectWorkloads: async () => [],
    restart: async () => 'NotUpdated',
    rolloutStatus: async () => ({ done: true, message: 'done' }),
    findSecretUses: async () => [],
    async mergePatch(_object, patch) {
      const annotations = (patch.metadata as { annotations: Record<string, string | null> }).annotations;
      paused = annotations['rekey/paused'] === 'true';
      timeline.push(paused ? 'owner:paused' : 'owner:resumed');
    },
  };
  const clusters = new Map<string, Cluster>([...rt.deps.clusters].map(([n, c]) => [n, { ...c, workloads }]));
  const logLines: string[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void logLines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const deps: Deps = { ...rt.deps, clusters, databases: db, log };
  return { rt, deps, db, inventory, timeline, paused: () => paused, logLines };
}

async function current(h: Harness): Promise<{ versionId: string; material: PasswordMaterial }> {
  const v = (await h.rt.store.getVersion(STORE, { stage: Stage.Current }))!;
  return { versionId: v.versionId, material: decodeMaterial(v.value, STORE) as PasswordMaterial };
}

async function rotate(h: Harness): Promise<RotationRecord> {
  const record = await startRotation(h.deps, h.inventory, 'app-db', { trigger: Trigger.Manual, reason: 'test' });
  await driveRotations(h.deps, h.inventory, h.rt.queue, { maxAttempts: 2 });
  return (await h.rt.journal.get(record.id))!;
}

/** apply: a database password's first version goes through the machine too. */
async function firstVersion(h: Harness): Promise<void> {
  const result = await apply(h.deps, h.inventory);
  expect(result.rotations).toHaveLength(1);
  await driveRotations(h.deps, h.inventory, h.rt.queue);
  expect((await h.rt.journal.get(result.rotations[0]!))!.status).toBe(RotationStatus.Completed);
}

/** Every password the store ever held, and the one the database started with. */
async function secrets(h: Harness): Promise<string[]> {
  const versions = (await h.rt.store.describe(STORE))?.versions ?? [];
  const values = await Promise.all(versions.map((v) => h.rt.store.getVersion(STORE, { versionId: v.versionId })));
  return [INITIAL, ...values.map((v) => (decodeMaterial(v!.value, STORE) as PasswordMaterial).password)];
}

/** Nothing observable outside the store and the Secret holds a password: events, journal, logs, database statements. */
async function expectNoPasswordLeaks(h: Harness): Promise<void> {
  const records = await h.rt.journal.listByItem('shop', 'app-db');
  const observable = [JSON.stringify(h.rt.bus.published), JSON.stringify(records), h.logLines.join('\n'), h.db.statements.join('\n')].join(
    '\n',
  );
  for (const p of await secrets(h)) expect(observable.includes(p), 'a password leaked').toBe(false);
}

describe('password rotation, strategy single', () => {
  it('pauses the owner, sets the new password in the database, syncs, resumes the owner and verifies by logging in', async () => {
    // Prepare
    const h = harness('single');
    await firstVersion(h);
    const before = await current(h);
    h.timeline.length = 0;
    // Act
    const record = await rotate(h);
    // Assess: completed through every step
    expect(record.status).toBe(RotationStatus.Completed);
    expect(record.history.map((s) => s.step)).toEqual(ALL_STEPS);
    const after = await current(h);
    expect(after.versionId).toBe(record.id);
    expect(after.material.login).toBe('app');
    // the database: new password logs in, the old one no longer does
    expect(h.db.accepts('app', after.material.password)).toBe(true);
    expect(h.db.accepts('app', before.material.password)).toBe(false);
    // the owner was paused around the change and resumed after it
    const order = (e: string) => h.timeline.indexOf(e);
    expect(order('owner:paused')).toBeGreaterThanOrEqual(0);
    expect(order('owner:paused')).toBeLessThan(order('db:setPasswordVerifier:app'));
    expect(order('owner:resumed')).toBeGreaterThan(order('db:setPasswordVerifier:app'));
    expect(h.paused()).toBe(false);
    // the Secret, in the layout operators' users expect
    const secret = (await h.rt.writers.get('dc1')!.getSecret('db', 'app-db'))!;
    expect(secret.data).toEqual({
      username: 'app',
      password: after.material.password,
      host: 'pg.db.svc',
      port: '5432',
      dbname: 'shop',
      uri: `postgresql://app:${encodeURIComponent(after.material.password)}@pg.db.svc:5432/shop`,
      'jdbc-uri': `jdbc:postgresql://pg.db.svc:5432/shop?password=${encodeURIComponent(after.material.password)}&user=app`,
    });
    // only verifiers went into statements
    expect(h.db.statements.every((s) => !s.includes(after.material.password))).toBe(true);
    await expectNoPasswordLeaks(h);
  });

  it('fails before promotion when the new password does not log in: pending discarded, database set back, owner resumed, RotationFailed says why', async () => {
    // Prepare
    const h = harness('single');
    await firstVersion(h);
    const before = await current(h);
    h.db.before = (call) => {
      // The server takes the new password but refuses every login with it.
      if (call === 'tryLogin') h.db.refuse.add('app');
      if (call === 'setPasswordVerifier' && h.db.refuse.has('app')) h.db.refuse.delete('app');
    };
    // Act
    const record = await rotate(h);
    // Assess
    expect(record.status).toBe(RotationStatus.Failed);
    expect(record.step).toBe(PasswordStep.TestLogin);
    expect(record.error).toMatch(/the new password of app was refused by the database/);
    expect(record.error).toMatch(/the database has the current password of app back/);
    expect(record.error).toMatch(/Postgres pg resumed in dc1/);
    expect((await current(h)).versionId).toBe(before.versionId);
    expect((await h.rt.store.describe(STORE))!.versions.filter((v) => v.stages.includes(Stage.Pending))).toEqual([]);
    expect(h.db.accepts('app', before.material.password)).toBe(true);
    expect(h.paused()).toBe(false);
    const failed = h.rt.bus.published.filter((e) => e.type === EventType.RotationFailed && e.detail.rotationId === record.id);
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.detail.error)).toMatch(/refused/);
    await expectNoPasswordLeaks(h);
  });

  it('fails when the database refuses the ALTER ROLE: the old password still logs in and the owner is resumed', async () => {
    // Prepare
    const h = harness('single');
    await firstVersion(h);
    const before = await current(h);
    let refusals = 0;
    h.db.before = (call) => {
      if (call === 'setPasswordVerifier' && refusals++ === 0) throw new DatabaseError('permission denied to alter role (SQLSTATE 42501)');
    };
    // Act
    const record = await rotate(h);
    // Assess
    expect(record.status).toBe(RotationStatus.Failed);
    expect(record.error).toMatch(/permission denied/);
    expect((await current(h)).versionId).toBe(before.versionId);
    expect(h.db.accepts('app', before.material.password)).toBe(true);
    expect(h.paused()).toBe(false);
  });

  it('after promotion, a Secret whose password does not log in rolls the store back and the database with it', async () => {
    // Prepare
    const h = harness('single');
    await firstVersion(h);
    const before = await current(h);
    let logins = 0;
    h.db.before = (call) => {
      // test-login passes; the verify step's login is refused
      if (call === 'tryLogin' && ++logins === 2) h.db.refuse.add('app');
      if (call === 'setPasswordVerifier') h.db.refuse.delete('app');
    };
    // Act
    const record = await rotate(h);
    // Assess
    expect(record.status).toBe(RotationStatus.RolledBack);
    expect(record.step).toBe(PasswordStep.Verify);
    expect((await current(h)).versionId).toBe(before.versionId);
    expect(h.db.accepts('app', before.material.password)).toBe(true);
    expect((await h.rt.writers.get('dc1')!.getSecret('db', 'app-db'))!.data.password).toBe(before.material.password);
    expect(h.paused()).toBe(false);
  });
});

describe('password rotation, strategy alternating', () => {
  it('sets the inactive login (created on first use as a member of the role), switches username, and keeps the previous login working', async () => {
    // Prepare
    const h = harness('alternating');
    await firstVersion(h);
    const first = await current(h);
    // Act
    const second = await rotate(h);
    const afterSecond = await current(h);
    const third = await rotate(h);
    const afterThird = await current(h);
    // Assess: the first version is the role itself, then app_alt, then app again
    expect([second.status, third.status]).toEqual([RotationStatus.Completed, RotationStatus.Completed]);
    expect([first.material.login, afterSecond.material.login, afterThird.material.login]).toEqual(['app', 'app_alt', 'app']);
    expect(h.db.roles.get('app_alt')).toMatchObject({ login: true, memberOf: ['app'], settings: { role: 'app' } });
    // the previous login keeps working until the next rotation replaces its password
    expect(h.db.accepts('app_alt', afterSecond.material.password)).toBe(true);
    expect(h.db.accepts('app', afterThird.material.password)).toBe(true);
    expect(h.db.accepts('app', first.material.password)).toBe(false);
    const secret = (await h.rt.writers.get('dc1')!.getSecret('db', 'app-db'))!;
    expect([secret.data.username, secret.data.password]).toEqual(['app', afterThird.material.password]);
    await expectNoPasswordLeaks(h);
  });

  it('a failure before promotion leaves the login in use untouched', async () => {
    // Prepare
    const h = harness('alternating');
    await firstVersion(h);
    const before = await current(h);
    h.db.before = (call, role) => {
      if (call === 'tryLogin' && role === 'app_alt') h.db.refuse.add('app_alt');
    };
    // Act
    const record = await rotate(h);
    // Assess
    expect(record.status).toBe(RotationStatus.Failed);
    expect((await current(h)).material.login).toBe('app');
    expect(h.db.accepts('app', before.material.password)).toBe(true);
    expect(h.paused()).toBe(false);
  });
});

/** Points where the worker dies right after a side effect, before the rotation recorded it. */
const crashes: { name: string; arm: (h: Harness) => void }[] = [
  { name: 'after pausing the owner', arm: (h) => dieAfter(h, 'owner:paused') },
  { name: 'after setting the password in the database', arm: (h) => dieAfterDb(h, 'setPasswordVerifier') },
  { name: 'after the test login', arm: (h) => dieAfterDb(h, 'tryLogin') },
  { name: 'right after the store promoted', arm: (h) => dieAfterPromote(h) },
  { name: 'after resuming the owner', arm: (h) => dieAfter(h, 'owner:resumed') },
  ...ALL_STEPS.map((step) => ({
    name: `after ${step} did its work, before the journal recorded it`,
    arm: (h: Harness) => dieOnJournal(h, step),
  })),
];

let armed = true;
function dieAfter(h: Harness, event: string): void {
  const control = h.deps.clusters.get('dc1')!.workloads!;
  const patch = control.mergePatch.bind(control);
  control.mergePatch = async (o, p) => {
    await patch(o, p);
    if (armed && h.timeline.at(-1) === event) {
      armed = false;
      throw new DiedHere(`died after ${event}`);
    }
  };
}
function dieAfterDb(h: Harness, call: 'setPasswordVerifier' | 'tryLogin'): void {
  h.db.after = (c) => {
    if (armed && c === call) {
      armed = false;
      throw new DiedHere(`died after ${call}`);
    }
  };
  if (call === 'tryLogin') {
    const open = h.db.open.bind(h.db);
    h.db.open = async (login) => {
      const s = await open(login);
      const tryLogin = s.tryLogin.bind(s);
      return {
        ...s,
        roleExists: s.roleExists.bind(s),
        createAlternate: s.createAlternate.bind(s),
        setPasswordVerifier: s.setPasswordVerifier.bind(s),
        close: s.close.bind(s),
        tryLogin: async (r, p) => {
          const out = await tryLogin(r, p);
          h.db.after('tryLogin', r);
          return out;
        },
      };
    };
  }
}
function dieAfterPromote(h: Harness): void {
  const store = h.deps.store;
  const promote = store.promote.bind(store);
  (h as { deps: Deps }).deps = {
    ...h.deps,
    store: {
      ...storeMethods(store),
      promote: async (n, v) => {
        await promote(n, v);
        if (armed) {
          armed = false;
          throw new DiedHere('died after promoting');
        }
      },
    },
  };
}
function dieOnJournal(h: Harness, step: string): void {
  const journal = h.deps.journal;
  const update = journal.update.bind(journal);
  (h as { deps: Deps }).deps = {
    ...h.deps,
    journal: {
      create: journal.create.bind(journal),
      get: journal.get.bind(journal),
      listByItem: journal.listByItem.bind(journal),
      listByStatus: journal.listByStatus.bind(journal),
      claimLease: journal.claimLease.bind(journal),
      sweepLocks: journal.sweepLocks.bind(journal),
      update: async (r) => {
        if (armed && r.history.at(-1)?.step === step && r.history.at(-1)?.status !== 'waiting') {
          armed = false;
          throw new DiedHere(`died before recording ${step}`);
        }
        await update(r);
      },
    },
  };
}
const storeMethods = (s: Deps['store']): Deps['store'] => ({
  describe: s.describe.bind(s),
  getVersion: s.getVersion.bind(s),
  putPending: s.putPending.bind(s),
  putCurrent: s.putCurrent.bind(s),
  promote: s.promote.bind(s),
  discardPending: s.discardPending.bind(s),
  rollback: s.rollback.bind(s),
  list: s.list.bind(s),
});

describe('password rotation under worker crashes', () => {
  it.each(crashes)('completes exactly once, owner resumed, when the worker dies $name and recovery resumes it', async ({ arm }) => {
    // Prepare
    const h = harness('single');
    await firstVersion(h);
    const before = await current(h);
    armed = true;
    arm(h);
    const dead = { owner: 'cli:test:1:dead', ttlMs: 60_000 };
    const record = await startRotation(h.deps, h.inventory, 'app-db', { trigger: Trigger.Manual, reason: 'crash test', lease: dead });
    // Act: the worker runs until it dies (the death ends its process: nothing it had queued survives)
    let died = false;
    await h.rt.queue.drain(async (m) => {
      if (died) return;
      try {
        await executeLeasedStep(h.deps, h.inventory, m, dead);
      } catch (e) {
        // A death inside a port may come wrapped in the error of the step that called it.
        if (!(e instanceof DiedHere) && !((e as Error).cause instanceof DiedHere)) throw e;
        died = true;
      }
    });
    // a new process recovers what the dead one left
    const report = await recover(h.deps, h.inventory, {
      lease: { owner: 'cli:test:2:alive', ttlMs: 60_000 },
      exclusive: true,
      queue: h.rt.queue,
    });
    // Assess
    expect(died).toBe(true);
    expect(report.entries.filter((e) => e.rotationId === record.id).map((e) => e.outcome)).toEqual([RotationStatus.Completed]);
    const final = (await h.rt.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect(final.history.filter((s) => s.status === 'completed' || s.status === 'skipped').map((s) => s.step)).toEqual(ALL_STEPS);
    const versions = (await h.rt.store.describe(STORE))!.versions;
    expect(versions.filter((v) => v.stages.includes(Stage.Current)).map((v) => v.versionId)).toEqual([record.id]);
    expect(versions.filter((v) => v.stages.includes(Stage.Pending))).toEqual([]);
    const after = await current(h);
    expect(h.db.accepts('app', after.material.password)).toBe(true);
    expect(h.db.accepts('app', before.material.password)).toBe(false);
    expect(h.paused()).toBe(false);
    expect(h.rt.bus.published.filter((e) => e.type === EventType.RotationCompleted && e.detail.rotationId === record.id)).toHaveLength(1);
    // A worker dying right after the store promoted cannot have told the bus (as for leaves): at most once.
    expect(
      h.rt.bus.published.filter((e) => e.type === EventType.VersionPromoted && e.detail.rotationId === record.id).length,
    ).toBeLessThanOrEqual(1);
  });
});

describe('password credentials in apply, scan and adopt', () => {
  it('the scheduled scan starts a due database password rotation, which completes', async () => {
    // Prepare
    const h = harness('single');
    await firstVersion(h);
    const before = await current(h);
    clock = new Date(clock.getTime() + 721 * 3600_000);
    // Act
    const result = await scan(h.deps, h.inventory);
    await driveRotations(h.deps, h.inventory, h.rt.queue);
    // Assess
    expect(result.started.map((s) => s.item)).toEqual(['app-db']);
    const final = (await h.rt.journal.get(result.started[0]!.rotationId))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect((await current(h)).versionId).not.toBe(before.versionId);
    expect(h.db.accepts('app', (await current(h)).material.password)).toBe(true);
  });

  it('adopt: true imports the password an existing Secret holds as the first version, and changes nothing in the database', async () => {
    // Prepare
    const inventory = loadInventory(
      inventoryText('single').replace('    consumers: [StatefulSet/pg]', '    adopt: true\n    consumers: [StatefulSet/pg]'),
    );
    const h = { ...harness('single'), inventory };
    await h.rt.writers
      .get('dc1')!
      .writeSecret(
        { name: 'app-db', namespace: 'db', type: 'Opaque', data: { username: 'app', password: INITIAL }, labels: {}, annotations: {} },
        { adopt: true },
      );
    // Act
    const result = await apply(h.deps, inventory);
    // Assess
    expect(result.decisions.map((d) => [d.unit, d.action])).toEqual([['app-db', 'adopt']]);
    expect(result.rotations).toEqual([]);
    const adopted = await current(h);
    expect(adopted.material).toMatchObject({ password: INITIAL, login: 'app', adopted: true });
    expect(h.db.count('setPasswordVerifier')).toBe(0);
    expect(h.db.accepts('app', INITIAL)).toBe(true);
  });

  it('a password with an owner to pause but no database pauses and resumes it too', async () => {
    // Prepare
    const inventory = loadInventory(inventoryText('single').replace(/ {4}database: .*\n/, ''));
    const h = { ...harness('single'), inventory };
    await apply(h.deps, inventory);
    await driveRotations(h.deps, inventory, h.rt.queue);
    h.timeline.length = 0;
    // Act
    const record = await rotate(h);
    // Assess
    expect(record.status).toBe(RotationStatus.Completed);
    expect(record.history.filter((s) => s.status === 'skipped').map((s) => s.step)).toEqual(
      expect.arrayContaining([PasswordStep.SetInDatabase, PasswordStep.TestLogin]),
    );
    expect(h.timeline).toEqual(['owner:paused', 'owner:resumed']);
    expect(h.db.calls).toEqual([]);
  });
});
