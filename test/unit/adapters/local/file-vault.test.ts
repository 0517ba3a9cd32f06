import { randomBytes } from 'node:crypto';
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { loadVaultKey } from '../../../../shared/adapters/local/vault-key.js';
import { IntegrityError, NotFoundError, RotationLockedError, UsageError } from '../../../../shared/domain/errors.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { exists, makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const NAME = 'rekey/shop/web';
const PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBv4Rk3ZI8dBxLuW0v4gV7d0\n-----END PRIVATE KEY-----\n';

let root: string;
let key: Buffer;
let vault: FileVault;
let clock: number;

beforeEach(async () => {
  root = await makeTempDir('rekey-vault-');
  key = randomBytes(32);
  clock = Date.parse('2030-01-01T00:00:00Z');
  vault = new FileVault(join(root, 'vault'), key, { now: () => new Date((clock += 1000)) });
});
afterEach(() => removeTempDir(root));

const stagesOf = async (name = NAME) => Object.fromEntries((await vault.describe(name))!.versions.map((v) => [v.versionId, v.stages]));

describe('FileVault staging labels', () => {
  it('putPending stores a version labelled AWSPENDING; nothing is current yet', async () => {
    // Act
    const result = await vault.putPending(NAME, 'v1', 'one', { tags: { 'rekey:item': 'web' }, description: 'web cert' });
    // Assess
    expect(result).toEqual({ created: true });
    expect(await stagesOf()).toEqual({ v1: [Stage.Pending] });
    expect(await vault.getVersion(NAME)).toBeUndefined();
    expect(await vault.getVersion(NAME, { stage: Stage.Pending })).toMatchObject({
      versionId: 'v1',
      value: 'one',
      stages: [Stage.Pending],
      createdAt: '2030-01-01T00:00:01.000Z',
    });
    expect((await vault.describe(NAME))!.tags).toEqual({ 'rekey:item': 'web' });
  });

  it('promote makes the pending version AWSCURRENT and the old current AWSPREVIOUS; the one before loses its label', async () => {
    // Prepare
    await vault.putPending(NAME, 'v1', 'one');
    await vault.promote(NAME, 'v1');
    await vault.putPending(NAME, 'v2', 'two');
    // Act
    await vault.promote(NAME, 'v2');
    const afterTwo = await stagesOf();
    await vault.putPending(NAME, 'v3', 'three');
    await vault.promote(NAME, 'v3');
    // Assess
    expect(afterTwo).toEqual({ v1: [Stage.Previous], v2: [Stage.Current] });
    expect(await stagesOf()).toEqual({ v1: [], v2: [Stage.Previous], v3: [Stage.Current] });
    expect((await vault.getVersion(NAME))!.value).toBe('three');
    expect((await vault.getVersion(NAME, { stage: Stage.Previous }))!.value).toBe('two');
    expect((await vault.getVersion(NAME, { versionId: 'v1' }))!.value).toBe('one');
  });

  it('promote is idempotent, and refuses an unknown version', async () => {
    // Prepare
    await vault.putPending(NAME, 'v1', 'one');
    await vault.promote(NAME, 'v1');
    await vault.putPending(NAME, 'v2', 'two');
    await vault.promote(NAME, 'v2');
    const before = await readFile(join(root, 'vault', `${encodeURIComponent(NAME)}.vault`));
    // Act
    await vault.promote(NAME, 'v2');
    await vault.promote(NAME, 'v2');
    // Assess: nothing changed, not even the file (no rewrite)
    expect(await stagesOf()).toEqual({ v1: [Stage.Previous], v2: [Stage.Current] });
    expect(await readFile(join(root, 'vault', `${encodeURIComponent(NAME)}.vault`))).toEqual(before);
    await expect(vault.promote(NAME, 'nope')).rejects.toBeInstanceOf(NotFoundError);
    await expect(vault.promote('rekey/shop/missing', 'v1')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('discardPending removes AWSPENDING only, leaving the current version; idempotent', async () => {
    // Prepare
    await vault.putPending(NAME, 'v1', 'one');
    await vault.promote(NAME, 'v1');
    await vault.putPending(NAME, 'v2', 'two');
    // Act
    await vault.discardPending(NAME, 'v2');
    await vault.discardPending(NAME, 'v2');
    await vault.discardPending(NAME, 'never-was');
    // Assess
    expect(await stagesOf()).toEqual({ v1: [Stage.Current], v2: [] });
    expect((await vault.getVersion(NAME))!.value).toBe('one');
    expect(await vault.getVersion(NAME, { stage: Stage.Pending })).toBeUndefined();
    // and the secret is free for the next rotation
    expect(await vault.putPending(NAME, 'v3', 'three')).toEqual({ created: true });
  });

  it('rollback moves AWSCURRENT back to the AWSPREVIOUS version and returns its id', async () => {
    // Prepare
    for (const v of ['v1', 'v2']) {
      await vault.putPending(NAME, v, v);
      await vault.promote(NAME, v);
    }
    // Act
    const now = await vault.rollback(NAME);
    // Assess
    expect(now).toBe('v1');
    expect(await stagesOf()).toEqual({ v1: [Stage.Current], v2: [Stage.Previous] });
    expect((await vault.getVersion(NAME))!.value).toBe('v1');
  });

  it('rollback without a previous version is refused', async () => {
    // Prepare
    await vault.putPending(NAME, 'v1', 'one');
    await vault.promote(NAME, 'v1');
    // Act + Assess
    await expect(vault.rollback(NAME)).rejects.toBeInstanceOf(NotFoundError);
    await expect(vault.rollback('rekey/none')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('getVersion by stage, by id, and by both; describe lists versions without values', async () => {
    // Prepare
    await vault.putPending(NAME, 'v1', 'one');
    await vault.promote(NAME, 'v1');
    await vault.putPending(NAME, 'v2', 'two');
    // Act
    const description = await vault.describe(NAME);
    // Assess
    expect((await vault.getVersion(NAME, { stage: Stage.Current }))!.versionId).toBe('v1');
    expect((await vault.getVersion(NAME, { versionId: 'v2' }))!.value).toBe('two');
    expect((await vault.getVersion(NAME, { versionId: 'v2', stage: Stage.Pending }))!.value).toBe('two');
    expect(await vault.getVersion(NAME, { versionId: 'v2', stage: Stage.Current })).toBeUndefined();
    expect(await vault.getVersion(NAME, { versionId: 'v9' })).toBeUndefined();
    expect(await vault.getVersion('rekey/none')).toBeUndefined();
    expect(await vault.describe('rekey/none')).toBeUndefined();
    expect(description!.versions.map((v) => Object.keys(v).sort())).toEqual([
      ['createdAt', 'stages', 'versionId'],
      ['createdAt', 'stages', 'versionId'],
    ]);
  });

  it('lists names under a prefix, sorted, with slashes and odd characters intact', async () => {
    // Prepare
    for (const n of ['rekey/b/x', 'rekey/a/web', 'rekey/a/db/0', 'rekey/a/db/1', 'rekey/a/ü %2F', 'other/a'])
      await vault.putPending(n, 'v', 'x');
    // Act
    const underA = await vault.list('rekey/a/');
    // Assess
    expect(underA).toEqual(['rekey/a/db/0', 'rekey/a/db/1', 'rekey/a/web', 'rekey/a/ü %2F']);
    expect(await vault.list('rekey/')).toHaveLength(5);
    expect(await vault.list('')).toHaveLength(6);
    expect(await new FileVault(join(root, 'nowhere'), key).list('')).toEqual([]);
  });

  it('keeps at most 10 unlabelled versions, dropping the oldest', async () => {
    // Act
    for (let i = 0; i < 15; i++) {
      await vault.putPending(NAME, `v${i}`, `${i}`);
      await vault.promote(NAME, `v${i}`);
    }
    // Assess
    const versions = (await vault.describe(NAME))!.versions;
    expect(versions.map((v) => v.versionId)).toEqual(['v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11', 'v12', 'v13', 'v14']);
    expect(versions.filter((v) => v.stages.length === 0)).toHaveLength(10);
  });
});

describe('FileVault idempotency and locking', () => {
  it('putPending with an id that exists returns created:false and keeps the first value', async () => {
    // Prepare
    await vault.putPending(NAME, 'rot-1', 'first');
    // Act
    const again = await vault.putPending(NAME, 'rot-1', 'second');
    // Assess
    expect(again).toEqual({ created: false });
    expect((await vault.getVersion(NAME, { versionId: 'rot-1' }))!.value).toBe('first');
    expect((await vault.describe(NAME))!.versions).toHaveLength(1);
  });

  it('putPending of a version already promoted is also a no-op (a retried issue step after promotion)', async () => {
    // Prepare
    await vault.putPending(NAME, 'rot-1', 'first');
    await vault.promote(NAME, 'rot-1');
    // Act
    const again = await vault.putPending(NAME, 'rot-1', 'second');
    // Assess
    expect(again).toEqual({ created: false });
    expect(await stagesOf()).toEqual({ 'rot-1': [Stage.Current] });
  });

  it('a second pending id is a lock: RotationLockedError naming both rotations, retryable', async () => {
    // Prepare
    await vault.putPending(NAME, 'rot-1', 'first');
    // Act
    const error = await vault.putPending(NAME, 'rot-2', 'second').catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(RotationLockedError);
    expect((error as RotationLockedError).message).toMatch(/rot-1/);
    expect((error as RotationLockedError).message).toMatch(/rot-2/);
    expect((error as RotationLockedError).retryable).toBe(true);
    expect(await stagesOf()).toEqual({ 'rot-1': [Stage.Pending] });
  });

  it('concurrent putPending calls for one secret in one process: exactly one wins', async () => {
    // Act
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => vault.putPending(NAME, `rot-${i}`, `${i}`)));
    // Assess
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) expect(r.reason).toBeInstanceOf(RotationLockedError);
    expect((await vault.describe(NAME))!.versions).toHaveLength(1);
  });

  it('a failed operation does not block the next one on the same secret', async () => {
    // Prepare
    await expect(vault.promote(NAME, 'missing')).rejects.toBeInstanceOf(NotFoundError);
    // Act
    const r = await vault.putPending(NAME, 'v1', 'x');
    // Assess
    expect(r.created).toBe(true);
  });
});

describe('FileVault encryption at rest', () => {
  it('files hold no plaintext (no PEM, no value, no name), are mode 0600, and read back with the key', async () => {
    // Prepare
    const value = JSON.stringify({ cert: 'CERTIFICATE-MARKER', key: PEM, password: 'hunter2-marker' });
    await vault.putPending(NAME, 'v1', value, { tags: { secretTag: 'tag-marker' }, description: 'description-marker' });
    await vault.promote(NAME, 'v1');
    // Act
    const files = (await readdir(join(root, 'vault'))).sort();
    const raw = await readFile(join(root, 'vault', `${encodeURIComponent(NAME)}.vault`), 'utf8');
    const mode = (await stat(join(root, 'vault', `${encodeURIComponent(NAME)}.vault`))).mode & 0o777;
    // Assess: the secret's file and the vault index (generations, encrypted too)
    expect(files).toEqual(['index', `${encodeURIComponent(NAME)}.vault`]);
    expect(await readFile(join(root, 'vault', 'index'), 'utf8')).not.toContain('rekey/shop');
    expect((await stat(join(root, 'vault', 'index'))).mode & 0o777).toBe(0o600);
    for (const marker of [
      'BEGIN',
      'PRIVATE',
      'CERTIFICATE-MARKER',
      'hunter2',
      'tag-marker',
      'description-marker',
      'rekey/shop',
      'AWSCURRENT',
    ])
      expect(raw).not.toContain(marker);
    expect(Object.keys(JSON.parse(raw) as object).sort()).toEqual(['data', 'iv', 'tag', 'v']);
    expect(mode).toBe(0o600);
    expect((await new FileVault(join(root, 'vault'), key).getVersion(NAME))!.value).toBe(value);
  });

  it('every write uses a fresh IV: the same content encrypts differently', async () => {
    // Prepare
    await vault.putPending('rekey/a', 'v', 'same');
    await vault.putPending('rekey/b', 'v', 'same');
    // Act
    const [a, b] = await Promise.all(
      ['rekey/a', 'rekey/b'].map(
        async (n) => JSON.parse(await readFile(join(root, 'vault', `${encodeURIComponent(n)}.vault`), 'utf8')) as { iv: string },
      ),
    );
    // Assess
    expect(a!.iv).not.toBe(b!.iv);
  });

  it('a wrong key is an IntegrityError that says what to check', async () => {
    // Prepare
    await vault.putPending(NAME, 'v1', 'one');
    const other = new FileVault(join(root, 'vault'), randomBytes(32));
    // Act
    const error = await other.getVersion(NAME, { stage: Stage.Pending }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toMatch(/REKEY_VAULT_KEY/);
    await expect(other.describe(NAME)).rejects.toBeInstanceOf(IntegrityError);
    await expect(other.putPending(NAME, 'v2', 'x')).rejects.toBeInstanceOf(IntegrityError);
  });

  it("a file copied onto another secret's name fails to decrypt (the name is associated data)", async () => {
    // Prepare
    await vault.putPending('rekey/shop/a', 'v1', 'value of a');
    await vault.putPending('rekey/shop/b', 'v1', 'value of b');
    const dir = join(root, 'vault');
    await copyFile(join(dir, `${encodeURIComponent('rekey/shop/a')}.vault`), join(dir, `${encodeURIComponent('rekey/shop/b')}.vault`));
    // Act
    const fresh = new FileVault(dir, key);
    // Assess
    await expect(fresh.getVersion('rekey/shop/b', { stage: Stage.Pending })).rejects.toBeInstanceOf(IntegrityError);
    expect((await fresh.getVersion('rekey/shop/a', { stage: Stage.Pending }))!.value).toBe('value of a');
  });

  it.each([
    ['truncated', (s: string) => s.slice(0, s.length / 2)],
    [
      'one bit of ciphertext flipped',
      (s: string) => {
        const box = JSON.parse(s) as { data: string };
        const bytes = Buffer.from(box.data, 'base64');
        bytes[0]! ^= 1;
        return JSON.stringify({ ...box, data: bytes.toString('base64') });
      },
    ],
    ['empty', () => ''],
  ])('a damaged file (%s) is an IntegrityError, not a crash', async (_label, damage) => {
    // Prepare
    await vault.putPending(NAME, 'v1', 'one');
    const file = join(root, 'vault', `${encodeURIComponent(NAME)}.vault`);
    await writeFile(file, damage(await readFile(file, 'utf8')));
    // Act + Assess
    await expect(new FileVault(join(root, 'vault'), key).describe(NAME)).rejects.toBeInstanceOf(IntegrityError);
  });
});

describe('loadVaultKey', () => {
  it('generates vault.key on first use with mode 0600 and returns the same key afterwards', async () => {
    // Act
    const first = await loadVaultKey(root, {});
    const second = await loadVaultKey(root, {});
    // Assess
    expect(first).toHaveLength(32);
    expect(second!.equals(first!)).toBe(true);
    expect((await stat(join(root, 'vault.key'))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(root, 'vault.key'), 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('with create:false and no key file returns undefined and creates nothing', async () => {
    // Act
    const key = await loadVaultKey(join(root, 'state'), {}, { create: false });
    // Assess
    expect(key).toBeUndefined();
    expect(await exists(join(root, 'state'))).toBe(false);
  });

  it.each([
    ['hex', (k: Buffer) => k.toString('hex')],
    ['base64', (k: Buffer) => k.toString('base64')],
  ])('honours REKEY_VAULT_KEY given as %s and writes no key file', async (_label, encode) => {
    // Prepare
    const wanted = randomBytes(32);
    // Act
    const got = await loadVaultKey(root, { REKEY_VAULT_KEY: encode(wanted) });
    // Assess
    expect(got!.equals(wanted)).toBe(true);
    expect(await exists(join(root, 'vault.key'))).toBe(false);
  });

  it('REKEY_VAULT_KEY of the wrong length is a usage error', async () => {
    await expect(loadVaultKey(root, { REKEY_VAULT_KEY: 'abcd' })).rejects.toBeInstanceOf(UsageError);
    await expect(loadVaultKey(root, { REKEY_VAULT_KEY: randomBytes(16).toString('hex') })).rejects.toBeInstanceOf(UsageError);
  });

  it('a vault opened with REKEY_VAULT_KEY reads what another process wrote with the same key', async () => {
    // Prepare
    const envKey = randomBytes(32).toString('hex');
    const k1 = (await loadVaultKey(root, { REKEY_VAULT_KEY: envKey }))!;
    await new FileVault(join(root, 'vault'), k1).putPending(NAME, 'v1', 'shared');
    // Act
    const k2 = (await loadVaultKey(join(root, 'elsewhere'), { REKEY_VAULT_KEY: envKey }))!;
    // Assess
    expect((await new FileVault(join(root, 'vault'), k2).getVersion(NAME, { versionId: 'v1' }))!.value).toBe('shared');
  });
});
