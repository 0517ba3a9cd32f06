import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalEventBus } from '../../../../shared/adapters/local/local-event-bus.js';
import { EventType, makeEvent, type RekeyEvent } from '../../../../shared/domain/events/types.js';
import { exists, makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

let root: string;
beforeEach(async () => {
  root = await makeTempDir('rekey-bus-');
});
afterEach(() => removeTempDir(root));

const base = { inventory: 'shop', item: 'web', rotationId: 'r1', at: '2030-01-01T00:00:00.000Z' };

const STARTED = { kind: 'leaf', trigger: 'manual', reason: 'test' };
const ISSUED = { serial: 'ab', versionId: 'v1', fingerprint: 'f0', notAfter: '2031-01-01T00:00:00.000Z', keyType: 'ECDSA-P256' };
const SYNCED = { cluster: 'dc1', namespace: 'shop', secret: 'web-tls', versionId: 'v1', change: 'updated' };

describe('LocalEventBus', () => {
  it('appends events as EventBridge envelopes (source rekey, detail-type, time, detail), mode 0600, in order', async () => {
    // Prepare
    const file = join(root, 'state', 'events.jsonl');
    const bus = new LocalEventBus(file);
    // Act
    await bus.publish([makeEvent(EventType.RotationStarted, base, STARTED), makeEvent(EventType.CertificateIssued, base, ISSUED)]);
    await bus.publish([makeEvent(EventType.RotationCompleted, base, { kind: 'leaf', steps: 6 })]);
    // Assess
    const lines = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['detail-type'])).toEqual(['RotationStarted', 'CertificateIssued', 'RotationCompleted']);
    expect(lines[1]).toEqual({ source: 'rekey', 'detail-type': 'CertificateIssued', time: base.at, detail: { ...base, ...ISSUED } });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(bus.published).toHaveLength(3);
  });

  it('refuses a batch carrying a private key and writes none of it', async () => {
    // Prepare
    const file = join(root, 'events.jsonl');
    const bus = new LocalEventBus(file);
    const leak = makeEvent(EventType.SecretSynced, base, {
      ...SYNCED,
      note: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----',
    });
    // Act
    const error = await bus.publish([makeEvent(EventType.RotationStarted, base, STARTED), leak]).catch((e: unknown) => e);
    // Assess
    expect((error as Error).message).toMatch(/private key/);
    expect(await exists(file)).toBe(false);
    expect(bus.published).toHaveLength(0);
  });

  it('with keep off holds no event in memory, and still appends and delivers every one', async () => {
    // Prepare
    const file = join(root, 'events.jsonl');
    const bus = new LocalEventBus(file, { keep: false });
    const seen: string[] = [];
    bus.subscribe(async (e) => {
      seen.push(e.detail.item);
    });
    // Act
    await bus.publish([
      makeEvent(EventType.SecretSynced, base, SYNCED),
      makeEvent(EventType.SecretSynced, { ...base, item: 'db' }, SYNCED),
    ]);
    // Assess
    expect(bus.published).toEqual([]);
    expect(seen).toEqual(['web', 'db']);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { detail: { item: string } }).detail.item)).toEqual(['web', 'db']);
  });

  it('delivers each event to subscribers; an empty publish does nothing', async () => {
    // Prepare
    const bus = new LocalEventBus(undefined);
    const seen: RekeyEvent[] = [];
    bus.subscribe(async (e) => {
      seen.push(e);
    });
    // Act
    await bus.publish([]);
    await bus.publish([
      makeEvent(EventType.SecretSynced, base, SYNCED),
      makeEvent(EventType.SecretSynced, { ...base, item: 'db' }, SYNCED),
    ]);
    // Assess
    expect(seen.map((e) => e.detail.item)).toEqual(['web', 'db']);
  });
});

describe('LocalEventBus, appends grouped', () => {
  it('keeps call order across concurrent publishes and resolves each once its lines are in the file', async () => {
    // Prepare
    const file = join(root, 'state', 'events.jsonl');
    const bus = new LocalEventBus(file);
    const event = (i: number) => makeEvent(EventType.CertificateIssued, { ...base, item: `web-${i}` }, ISSUED);
    // Act
    const written = await Promise.all(
      Array.from({ length: 50 }, (_, i) => bus.publish([event(i)]).then(async () => (await readFile(file, 'utf8')).includes(`"web-${i}"`))),
    );
    // Assess
    const items = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { detail: { item: string } }).detail.item);
    expect(items).toEqual(Array.from({ length: 50 }, (_, i) => `web-${i}`));
    expect(written.every(Boolean)).toBe(true);
  });

  it('rejects the publishes of a failed append and appends later ones', async () => {
    // Prepare: the state folder is a file, so the append fails; then it is put right
    const state = join(root, 'state');
    await writeFile(state, 'not a folder');
    const bus = new LocalEventBus(join(state, 'events.jsonl'));
    // Act
    const failed = await bus.publish([makeEvent(EventType.RotationStarted, base, STARTED)]).catch((e: unknown) => e);
    await rm(state);
    await bus.publish([makeEvent(EventType.RotationCompleted, base, { kind: 'leaf', steps: 6 })]);
    // Assess
    expect(failed).toBeInstanceOf(Error);
    expect((await readFile(join(state, 'events.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(bus.published.map((e) => e.type)).toEqual([EventType.RotationCompleted]);
  });
});
