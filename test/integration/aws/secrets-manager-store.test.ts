import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerStore } from '../../../shared/adapters/aws/secrets-manager-store.js';
import { SecretsManagerClient, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { RekeyError, RotationLockedError, TransientError } from '../../../shared/domain/errors.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { useMoto } from './moto.js';

let store: SecretsManagerStore;
let prefix: string;

beforeAll(async () => {
  await useMoto();
  store = new SecretsManagerStore({ region: 'us-east-1' });
  prefix = `rekey/it-${randomBytes(4).toString('hex')}`;
});

const stagesOf = async (name: string) =>
  Object.fromEntries(((await store.describe(name))?.versions ?? []).map((v) => [v.versionId, v.stages]));

describe('SecretsManagerStore on moto', () => {
  it('runs the rotation protocol: pending, promote, second version, AWSPREVIOUS, rollback', async () => {
    // Prepare
    const name = `${prefix}/web`;
    const [v1, v2] = [randomUUID(), randomUUID()];

    // Act + Assess: a first version is pending and not current, though AWS labels first versions AWSCURRENT.
    expect(
      await store.putPending(name, v1, '{"n":1}', { tags: { 'rekey:inventory': 'it', 'rekey:item': 'web', 'rekey:managed-by': 'rekey' } }),
    ).toEqual({ created: true });
    expect(await store.getVersion(name)).toBeUndefined();
    expect((await store.getVersion(name, { stage: Stage.Pending }))?.value).toBe('{"n":1}');
    expect(await stagesOf(name)).toEqual({ [v1]: [Stage.Pending] });
    expect((await store.describe(name))?.tags).toEqual({ 'rekey:inventory': 'it', 'rekey:item': 'web', 'rekey:managed-by': 'rekey' });

    // A retried put makes nothing new.
    expect(await store.putPending(name, v1, '{"n":1}')).toEqual({ created: false });

    await store.promote(name, v1);
    expect(await stagesOf(name)).toEqual({ [v1]: [Stage.Current] });
    expect((await store.getVersion(name))?.value).toBe('{"n":1}');

    await store.putPending(name, v2, '{"n":2}');
    await store.promote(name, v2);
    await store.promote(name, v2); // idempotent
    expect(await stagesOf(name)).toEqual({ [v1]: [Stage.Previous], [v2]: [Stage.Current] });
    expect((await store.getVersion(name))?.value).toBe('{"n":2}');
    expect((await store.getVersion(name, { stage: Stage.Previous }))?.value).toBe('{"n":1}');

    expect(await store.rollback(name)).toBe(v1);
    expect((await store.getVersion(name))?.value).toBe('{"n":1}');
    expect(await stagesOf(name)).toEqual({ [v1]: [Stage.Current], [v2]: [Stage.Previous] });
  });

  it('a pending version of another rotation is a lock', async () => {
    // Prepare
    const name = `${prefix}/api`;
    const [v1, v2, v3] = [randomUUID(), randomUUID(), randomUUID()];
    await store.putPending(name, v1, 'one');
    await store.promote(name, v1);
    await store.putPending(name, v2, 'two');

    // Act
    const error = await store.putPending(name, v3, 'three').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RotationLockedError);
    expect(await stagesOf(name)).toEqual({ [v1]: [Stage.Current], [v2]: [Stage.Pending] });

    // Discarding frees it; the current never moved.
    await store.discardPending(name, v2);
    await store.discardPending(name, v2);
    expect((await store.getVersion(name))?.versionId).toBe(v1);
    await expect(store.putPending(name, v3, 'three')).resolves.toEqual({ created: true });
  });

  it('a promotion whose AWSPENDING removal is throttled past its retries is finished by promoting again; the next put is not locked', async () => {
    // Prepare: a store whose client fails the promotion's last call once, as Secrets Manager's quota does.
    const name = `${prefix}-cut/short`;
    const [v1, v2, v3] = [randomUUID(), randomUUID(), randomUUID()];
    await store.putPending(name, v1, 'one');
    await store.promote(name, v1);
    await store.putPending(name, v2, 'two');
    const client = new SecretsManagerClient({ region: 'us-east-1', maxAttempts: 1 });
    const send = client.send.bind(client) as (c: unknown) => Promise<unknown>;
    let throttled = 0;
    client.send = ((command: { input: { VersionStage?: string } }) => {
      if (command instanceof UpdateSecretVersionStageCommand && command.input.VersionStage === Stage.Pending && throttled++ === 0)
        return Promise.reject(
          Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400, attempts: 5 } }),
        );
      return send(command);
    }) as typeof client.send;
    const throttledStore = new SecretsManagerStore({ client });

    // Act + Assess: AWSCURRENT moved, AWSPENDING left on it.
    await expect(throttledStore.promote(name, v2)).rejects.toBeInstanceOf(TransientError);
    expect((await stagesOf(name))[v2]?.slice().sort()).toEqual([Stage.Current, Stage.Pending]);
    expect((await store.getVersion(name))?.stages.slice().sort()).toEqual([Stage.Current, Stage.Pending]);

    // Promoting again (what the retried step does when it finds its version current but still pending) removes it.
    await throttledStore.promote(name, v2);
    expect(await stagesOf(name)).toEqual({ [v1]: [Stage.Previous], [v2]: [Stage.Current] });

    // And a label left behind is no lock: the next rotation's put moves it.
    expect(await store.putPending(name, v3, 'three')).toEqual({ created: true });
    const stuck = `${prefix}-cut/stuck`;
    const [w1, w2, w3] = [randomUUID(), randomUUID(), randomUUID()];
    await store.putPending(stuck, w1, 'one');
    await store.promote(stuck, w1);
    await store.putPending(stuck, w2, 'two');
    throttled = 0;
    await expect(throttledStore.promote(stuck, w2)).rejects.toBeInstanceOf(TransientError);
    expect(await store.putPending(stuck, w3, 'three')).toEqual({ created: true });
    expect(await stagesOf(stuck)).toEqual({ [w1]: [Stage.Previous], [w2]: [Stage.Current], [w3]: [Stage.Pending] });
  });

  it('a discarded first version never becomes current or previous', async () => {
    // Prepare
    const name = `${prefix}/db`;
    const [v1, v2] = [randomUUID(), randomUUID()];

    // Act
    await store.putPending(name, v1, 'bad');
    await store.discardPending(name, v1);
    const afterDiscard = await store.getVersion(name);
    await store.putPending(name, v2, 'good');
    await store.promote(name, v2);

    // Assess
    expect(afterDiscard).toBeUndefined();
    expect((await store.getVersion(name))?.value).toBe('good');
    expect(await store.getVersion(name, { stage: Stage.Previous })).toBeUndefined();
    await expect(store.rollback(name)).rejects.toThrow(/no AWSPREVIOUS/);
  });

  it('refuses more than 64 KiB before sending', async () => {
    await expect(store.putPending(`${prefix}/big`, randomUUID(), 'x'.repeat(65_537))).rejects.toBeInstanceOf(RekeyError);
    expect(await store.describe(`${prefix}/big`)).toBeUndefined();
  });

  it('lists names under a prefix across pages', async () => {
    // Prepare: more secrets than one page of the test's own listing would hold is slow on moto; 3 names suffice
    // with the names of the other tests (pagination itself is covered by the unit tests).
    const names = await store.list(`${prefix}/`);

    // Assess
    expect(names).toEqual([`${prefix}/api`, `${prefix}/db`, `${prefix}/web`]);
  });
});
