import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { Readable } from 'node:stream';
import { mockClient } from 'aws-sdk-client-mock';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { clientConfig } from '../../../../shared/adapters/aws/client-config.js';
import { INITIAL_LABEL, SecretsManagerStore, visibleStages } from '../../../../shared/adapters/aws/secrets-manager-store.js';
import { NotFoundError, RekeyError, RotationLockedError, TransientError } from '../../../../shared/domain/errors.js';

expect.extend(allCustomMatcher);

const NAME = 'rekey/shop/web';
const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const V3 = '33333333-3333-4333-8333-333333333333';

let sm = mockClient(SecretsManagerClient);
let store: SecretsManagerStore;

beforeEach(() => {
  sm.restore();
  sm = mockClient(SecretsManagerClient);
  store = new SecretsManagerStore({
    client: new SecretsManagerClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
    kmsKeyId: 'alias/rekey',
  });
});

const notFound = () =>
  new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: { httpStatusCode: 400 } });
const stages = (raw: Record<string, string[]>) =>
  sm
    .on(DescribeSecretCommand, { SecretId: NAME })
    .resolves({ Name: NAME, VersionIdsToStages: raw, Tags: [{ Key: 'rekey:item', Value: 'web' }] });

describe('SecretsManagerStore.putPending', () => {
  it('creates a new secret without a value, then puts the version as AWSPENDING with rekey first-version label', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ Name: NAME });
    sm.on(PutSecretValueCommand).resolves({ VersionId: V1 });

    // Act
    const result = await store.putPending(NAME, V1, '{"cert":"x"}', {
      tags: { 'rekey:inventory': 'shop', 'rekey:item': 'web' },
      description: 'rekey certificate web',
    });

    // Assess
    expect(result).toEqual({ created: true });
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, {
      Name: NAME,
      KmsKeyId: 'alias/rekey',
      Description: 'rekey certificate web',
      Tags: [
        { Key: 'rekey:inventory', Value: 'shop' },
        { Key: 'rekey:item', Value: 'web' },
      ],
    });
    const create = sm.commandCalls(CreateSecretCommand)[0]!.args[0].input;
    expect(create.SecretString).toBeUndefined();
    expect(sm).toHaveReceivedCommandWith(PutSecretValueCommand, {
      SecretId: NAME,
      ClientRequestToken: V1,
      SecretString: '{"cert":"x"}',
      VersionStages: ['AWSPENDING', INITIAL_LABEL],
    });
  });

  it('puts a later version as AWSPENDING only, with the version id as ClientRequestToken', async () => {
    // Prepare
    stages({ [V1]: ['AWSCURRENT'] });
    sm.on(PutSecretValueCommand).resolves({ VersionId: V2 });

    // Act
    const result = await store.putPending(NAME, V2, 'two');

    // Assess
    expect(result).toEqual({ created: true });
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 0);
    expect(sm).toHaveReceivedCommandWith(PutSecretValueCommand, { SecretId: NAME, ClientRequestToken: V2, VersionStages: ['AWSPENDING'] });
  });

  it('makes nothing new when the version already exists (a retried step)', async () => {
    // Prepare
    stages({ [V1]: ['AWSCURRENT'], [V2]: ['AWSPENDING'] });

    // Act
    const result = await store.putPending(NAME, V2, 'two');

    // Assess
    expect(result).toEqual({ created: false });
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
  });

  it('refuses with RotationLockedError when another version is pending (Secrets Manager would move the label silently)', async () => {
    // Prepare
    stages({ [V1]: ['AWSCURRENT'], [V2]: ['AWSPENDING'] });

    // Act
    const error = await store.putPending(NAME, V3, 'three').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RotationLockedError);
    expect((error as RotationLockedError).context).toMatchObject({ heldBy: V2, rotationId: V3 });
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
  });

  it('is not locked by AWSPENDING left on the current version (a promotion cut short): the put moves the label', async () => {
    // Prepare
    stages({ [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT', 'AWSPENDING'] });
    sm.on(PutSecretValueCommand).resolves({ VersionId: V3 });

    // Act
    const result = await store.putPending(NAME, V3, 'three');

    // Assess
    expect(result).toEqual({ created: true });
    expect(sm).toHaveReceivedCommandWith(PutSecretValueCommand, { SecretId: NAME, ClientRequestToken: V3, VersionStages: ['AWSPENDING'] });
  });

  it('a first version still pending (AWS put AWSCURRENT on it, rekey has not promoted it) stays a lock', async () => {
    // Prepare
    stages({ [V1]: ['AWSCURRENT', 'AWSPENDING', INITIAL_LABEL] });

    // Act
    const error = await store.putPending(NAME, V2, 'two').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RotationLockedError);
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
  });

  it('checks the 64 KiB limit before sending anything', async () => {
    // Prepare
    const big = 'é'.repeat(32_769); // 65,538 bytes in UTF-8, fewer characters

    // Act
    const error = await store.putPending(NAME, V1, big).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RekeyError);
    expect((error as Error).message).toMatch(/65538 bytes.*at most 65536 bytes \(64 KiB\)/);
    expect(sm.calls()).toHaveLength(0);
  });

  it.each([
    ['too short', 'abc'],
    ['too long', 'x'.repeat(65)],
    ['with a space', `${'x'.repeat(31)} y`],
  ])('rejects a version id that cannot be a ClientRequestToken (%s)', async (_, id) => {
    // Act
    const error = await store.putPending(NAME, id, 'v').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RekeyError);
    expect((error as Error).message).toContain('ClientRequestToken');
    expect(sm.calls()).toHaveLength(0);
  });

  it('goes on when another worker created the secret first', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).rejects(notFound());
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    sm.on(PutSecretValueCommand).resolves({});

    // Act
    const result = await store.putPending(NAME, V1, 'one');

    // Assess
    expect(result).toEqual({ created: true });
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
  });

  it('says so when the secret is scheduled for deletion', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves({ Name: NAME, DeletedDate: new Date(), VersionIdsToStages: { [V1]: ['AWSCURRENT'] } });

    // Act
    const error = await store.putPending(NAME, V2, 'two').catch((e: unknown) => e);

    // Assess
    expect((error as Error).message).toMatch(/scheduled for deletion/);
  });
});

describe("SecretsManagerStore.putCurrent (a leaf rotation's one write)", () => {
  const exists = () => new ResourceExistsException({ message: 'exists', $metadata: {} });

  it('puts the version as AWSCURRENT with the rotation id as ClientRequestToken: one call', async () => {
    // Prepare
    sm.on(PutSecretValueCommand).resolves({});
    // Act
    const result = await store.putCurrent(NAME, V2, 'two');
    // Assess
    expect(result).toEqual({ created: true });
    expect(sm).toHaveReceivedCommandExactlyOnceWith(PutSecretValueCommand, {
      SecretId: NAME,
      ClientRequestToken: V2,
      SecretString: 'two',
      VersionStages: ['AWSCURRENT'],
    });
    expect(sm.calls()).toHaveLength(1);
  });

  it('makes nothing new when the version already exists (a retried step)', async () => {
    // Prepare
    sm.on(PutSecretValueCommand).rejects(exists());
    // Act
    const result = await store.putCurrent(NAME, V2, 'two');
    // Assess
    expect(result).toEqual({ created: false });
    expect(sm).not.toHaveReceivedCommand(CreateSecretCommand);
  });

  it('creates a secret that does not exist yet with the value as its first version, tags and KMS key', async () => {
    // Prepare
    sm.on(PutSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({});
    // Act
    const result = await store.putCurrent(NAME, V1, 'one', { tags: { 'rekey:item': 'web' } });
    // Assess
    expect(result).toEqual({ created: true });
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, {
      Name: NAME,
      ClientRequestToken: V1,
      SecretString: 'one',
      KmsKeyId: 'alias/rekey',
      Tags: [{ Key: 'rekey:item', Value: 'web' }],
    });
  });

  it('puts into the secret when another worker created it meanwhile', async () => {
    // Prepare
    sm.on(PutSecretValueCommand).rejectsOnce(notFound()).resolves({});
    sm.on(CreateSecretCommand).rejects(exists());
    // Act
    const result = await store.putCurrent(NAME, V1, 'one');
    // Assess
    expect(result).toEqual({ created: true });
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 2);
  });

  it('fails with the not-found error when the secret is gone again after another worker created it', async () => {
    // Prepare
    sm.on(PutSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).rejects(exists());
    // Act
    const error = await store.putCurrent(NAME, V1, 'one').catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(NotFoundError);
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 2);
  });
});

describe('SecretsManagerStore.promote', () => {
  it('moves AWSCURRENT from the old current (AWS moves AWSPREVIOUS), then removes AWSPENDING', async () => {
    // Prepare
    stages({ [V1]: ['AWSCURRENT'], [V2]: ['AWSPENDING'] });
    sm.on(UpdateSecretVersionStageCommand).resolves({});

    // Act
    await store.promote(NAME, V2);

    // Assess
    expect(sm).toHaveReceivedCommandTimes(UpdateSecretVersionStageCommand, 2);
    expect(sm).toHaveReceivedNthCommandWith(UpdateSecretVersionStageCommand, 1, {
      SecretId: NAME,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: V2,
      RemoveFromVersionId: V1,
    });
    expect(sm).toHaveReceivedNthCommandWith(UpdateSecretVersionStageCommand, 2, {
      SecretId: NAME,
      VersionStage: 'AWSPENDING',
      RemoveFromVersionId: V2,
    });
  });

  it('promotes a first version by removing rekey label (AWSCURRENT is already on it)', async () => {
    // Prepare
    stages({ [V1]: ['AWSPENDING', 'AWSCURRENT', INITIAL_LABEL] });
    sm.on(UpdateSecretVersionStageCommand).resolves({});

    // Act
    await store.promote(NAME, V1);

    // Assess
    expect(sm).toHaveReceivedNthCommandWith(UpdateSecretVersionStageCommand, 1, { VersionStage: INITIAL_LABEL, RemoveFromVersionId: V1 });
    expect(sm).toHaveReceivedNthCommandWith(UpdateSecretVersionStageCommand, 2, { VersionStage: 'AWSPENDING', RemoveFromVersionId: V1 });
    expect(sm).toHaveReceivedCommandTimes(UpdateSecretVersionStageCommand, 2);
  });

  it('is idempotent: a version already current and no longer pending makes no call', async () => {
    // Prepare
    stages({ [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT'] });

    // Act
    await store.promote(NAME, V2);

    // Assess
    expect(sm).toHaveReceivedCommandTimes(UpdateSecretVersionStageCommand, 0);
  });

  it('finishes a promotion cut short between its two calls (current moved, pending not yet removed)', async () => {
    // Prepare
    stages({ [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT', 'AWSPENDING'] });
    sm.on(UpdateSecretVersionStageCommand).resolves({});

    // Act
    await store.promote(NAME, V2);

    // Assess
    expect(sm).toHaveReceivedCommandTimes(UpdateSecretVersionStageCommand, 1);
    expect(sm).toHaveReceivedCommandWith(UpdateSecretVersionStageCommand, { VersionStage: 'AWSPENDING', RemoveFromVersionId: V2 });
  });

  it('throws NotFoundError for a version that does not exist', async () => {
    // Prepare
    stages({ [V1]: ['AWSCURRENT'] });

    // Act + Assess
    await expect(store.promote(NAME, V2)).rejects.toBeInstanceOf(NotFoundError);
  });

  const stageGone = () => new InvalidParameterException({ message: `Version stage AWSPENDING not found in version ${V2}`, $metadata: {} });

  it('accepts a move another worker made between its read and its call (the same version promoted twice at once)', async () => {
    // Prepare: read with AWSPENDING on V2; by the time of the move, the other worker has removed it
    sm.on(DescribeSecretCommand, { SecretId: NAME })
      .resolvesOnce({ Name: NAME, VersionIdsToStages: { [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT', 'AWSPENDING'] } })
      .resolves({ Name: NAME, VersionIdsToStages: { [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT'] } });
    sm.on(UpdateSecretVersionStageCommand).rejects(stageGone());

    // Act + Assess
    await expect(store.promote(NAME, V2)).resolves.toBeUndefined();
    expect(sm).toHaveReceivedCommandTimes(DescribeSecretCommand, 2);
  });

  it('still fails when the stages read again show the move not done', async () => {
    // Prepare
    stages({ [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT', 'AWSPENDING'] });
    sm.on(UpdateSecretVersionStageCommand).rejects(stageGone());

    // Act + Assess
    await expect(store.promote(NAME, V2)).rejects.toThrow(/UpdateSecretVersionStage.*InvalidParameterException/);
  });
});

describe('SecretsManagerStore.discardPending and rollback', () => {
  it('discardPending removes AWSPENDING and leaves the current alone', async () => {
    // Prepare
    stages({ [V1]: ['AWSCURRENT'], [V2]: ['AWSPENDING'] });
    sm.on(UpdateSecretVersionStageCommand).resolves({});

    // Act
    await store.discardPending(NAME, V2);

    // Assess
    expect(sm).toHaveReceivedCommandTimes(UpdateSecretVersionStageCommand, 1);
    expect(sm).toHaveReceivedCommandWith(UpdateSecretVersionStageCommand, { VersionStage: 'AWSPENDING', RemoveFromVersionId: V2 });
  });

  it('discardPending is idempotent: nothing pending, no call; no secret, no call', async () => {
    // Prepare
    stages({ [V1]: ['AWSCURRENT'] });
    sm.on(DescribeSecretCommand, { SecretId: 'rekey/shop/none' }).rejects(notFound());

    // Act
    await store.discardPending(NAME, V2);
    await store.discardPending('rekey/shop/none', V2);

    // Assess
    expect(sm).toHaveReceivedCommandTimes(UpdateSecretVersionStageCommand, 0);
  });

  it('rollback moves AWSCURRENT back to the AWSPREVIOUS version', async () => {
    // Prepare
    stages({ [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT'] });
    sm.on(UpdateSecretVersionStageCommand).resolves({});

    // Act
    const now = await store.rollback(NAME);

    // Assess
    expect(now).toBe(V1);
    expect(sm).toHaveReceivedCommandWith(UpdateSecretVersionStageCommand, {
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: V1,
      RemoveFromVersionId: V2,
    });
  });

  it('rollback never goes to a first version that was discarded (it only carries AWS automatic labels)', async () => {
    // Prepare
    stages({ [V1]: ['AWSPREVIOUS', INITIAL_LABEL], [V2]: ['AWSCURRENT'] });

    // Act + Assess
    await expect(store.rollback(NAME)).rejects.toBeInstanceOf(NotFoundError);
    expect(sm).toHaveReceivedCommandTimes(UpdateSecretVersionStageCommand, 0);
  });
});

describe('SecretsManagerStore reads', () => {
  it('getVersion names the stage explicitly (moto serves a stale AWSCURRENT otherwise) and maps the version', async () => {
    // Prepare
    sm.on(GetSecretValueCommand, { SecretId: NAME, VersionStage: 'AWSCURRENT' }).resolves({
      VersionId: V2,
      SecretString: 'two',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: new Date('2030-01-02T03:04:05Z'),
    });

    // Act
    const v = await store.getVersion(NAME);

    // Assess
    expect(v).toEqual({ versionId: V2, stages: ['AWSCURRENT'], createdAt: '2030-01-02T03:04:05.000Z', value: 'two' });
  });

  it('a first version that is only pending is not current, though AWS labelled it AWSCURRENT', async () => {
    // Prepare
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({
      VersionId: V1,
      SecretString: 'one',
      VersionStages: ['AWSCURRENT', 'AWSPENDING', INITIAL_LABEL],
    });
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPENDING' }).resolves({
      VersionId: V1,
      SecretString: 'one',
      VersionStages: ['AWSCURRENT', 'AWSPENDING', INITIAL_LABEL],
    });

    // Act
    const current = await store.getVersion(NAME);
    const pending = await store.getVersion(NAME, { stage: 'AWSPENDING' });

    // Assess
    expect(current).toBeUndefined();
    expect(pending?.stages).toEqual(['AWSPENDING']);
  });

  it('getVersion by id; a missing secret or version is undefined', async () => {
    // Prepare
    sm.on(GetSecretValueCommand, { VersionId: V1 }).resolves({ VersionId: V1, SecretString: 'one', VersionStages: [] });
    sm.on(GetSecretValueCommand, { VersionId: V3 }).rejects(notFound());

    // Act + Assess
    expect((await store.getVersion(NAME, { versionId: V1 }))?.value).toBe('one');
    expect(await store.getVersion(NAME, { versionId: V3 })).toBeUndefined();
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input.VersionStage).toBeUndefined();
  });

  it('describe joins stages (DescribeSecret) with creation dates (ListSecretVersionIds, all pages) and tags', async () => {
    // Prepare
    stages({ [V1]: ['AWSPREVIOUS'], [V2]: ['AWSCURRENT'], [V3]: ['AWSPENDING'] });
    sm.on(ListSecretVersionIdsCommand)
      .resolvesOnce({ Versions: [{ VersionId: V1, CreatedDate: new Date('2030-01-01T00:00:00Z') }], NextToken: 'p2' })
      .resolvesOnce({
        Versions: [
          { VersionId: V2, CreatedDate: new Date('2030-02-01T00:00:00Z') },
          { VersionId: V3, CreatedDate: new Date('2030-03-01T00:00:00Z') },
        ],
      });

    // Act
    const d = await store.describe(NAME);

    // Assess
    expect(d).toEqual({
      name: NAME,
      tags: { 'rekey:item': 'web' },
      versions: [
        { versionId: V1, stages: ['AWSPREVIOUS'], createdAt: '2030-01-01T00:00:00.000Z' },
        { versionId: V2, stages: ['AWSCURRENT'], createdAt: '2030-02-01T00:00:00.000Z' },
        { versionId: V3, stages: ['AWSPENDING'], createdAt: '2030-03-01T00:00:00.000Z' },
      ],
    });
    expect(sm).toHaveReceivedNthCommandWith(ListSecretVersionIdsCommand, 2, { SecretId: NAME, NextToken: 'p2' });
  });

  it('describe of a missing secret is undefined', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).rejects(notFound());

    // Act + Assess
    expect(await store.describe(NAME)).toBeUndefined();
  });

  it('list follows every page with the name filter and keeps exact prefixes', async () => {
    // Prepare
    sm.on(ListSecretsCommand)
      .resolvesOnce({ SecretList: [{ Name: 'rekey/shop/web' }, { Name: 'other/rekey/shop/x' }], NextToken: 't2' })
      .resolvesOnce({ SecretList: [{ Name: 'rekey/shop/api' }], NextToken: '' });

    // Act
    const names = await store.list('rekey/shop/');

    // Assess
    expect(names).toEqual(['rekey/shop/api', 'rekey/shop/web']);
    expect(sm).toHaveReceivedNthCommandWith(ListSecretsCommand, 1, {
      Filters: [{ Key: 'name', Values: ['rekey/shop/'] }],
      MaxResults: 100,
    });
    expect(sm).toHaveReceivedNthCommandWith(ListSecretsCommand, 2, { NextToken: 't2' });
  });
});

describe('SecretsManagerStore errors and retries', () => {
  it('retries throttling in the SDK (adaptive mode, our client settings) and succeeds', async () => {
    // Prepare: a fake HTTP layer below the SDK's retry middleware (aws-sdk-client-mock replaces send() and
    // would skip retries): the first answer is a throttling error, the second the secret.
    const answers = [
      { statusCode: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } },
      { statusCode: 200, body: { Name: NAME, VersionId: V1, SecretString: 'one', VersionStages: ['AWSCURRENT'] } },
    ];
    let requests = 0;
    const requestHandler = {
      handle: async () => {
        const a = answers[Math.min(requests++, answers.length - 1)]!;
        return {
          response: {
            statusCode: a.statusCode,
            headers: { 'content-type': 'application/x-amz-json-1.1' },
            body: Readable.from([Buffer.from(JSON.stringify(a.body))]),
          },
        };
      },
    };
    sm.restore();
    const client = new SecretsManagerClient({
      ...clientConfig({ region: 'us-east-1' }),
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      requestHandler: requestHandler as never,
    });
    const retrying = new SecretsManagerStore({ client });

    // Act
    const v = await retrying.getVersion(NAME);

    // Assess
    expect(v?.versionId).toBe(V1);
    expect(requests).toBe(2);
    expect(await client.config.retryStrategy()).toHaveProperty('mode', 'adaptive');
    expect(await client.config.maxAttempts()).toBe(5);
  });

  it('turns throttling that outlasts the retries into a retryable TransientError naming the call', async () => {
    // Prepare
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400, attempts: 5 },
      $retryable: { throttling: true },
    });
    sm.on(PutSecretValueCommand).rejects(throttled);
    stages({ [V1]: ['AWSCURRENT'] });

    // Act
    const error = await store.putPending(NAME, V2, 'two').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).retryable).toBe(true);
    expect((error as Error).message).toContain(`Secrets Manager PutSecretValue (${NAME})`);
  });

  it.each([
    ['AccessDeniedException', 403, /access denied.*IAM policy/, false],
    ['DecryptionFailure', 400, /KMS refused/, false],
    ['InternalServiceError', 500, /try again later/, true],
    ['LimitExceededException', 400, /quota/, false],
  ])('maps %s to a clear rekey error', async (name, status, message, retryable) => {
    // Prepare
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('boom'), { name, $metadata: { httpStatusCode: status } }));
    const once = new SecretsManagerStore({
      client: new SecretsManagerClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 }),
    });

    // Act
    const error = (await once.getVersion(NAME).catch((e: unknown) => e)) as RekeyError;

    // Assess
    expect(error).toBeInstanceOf(RekeyError);
    expect(error.message).toMatch(message);
    expect(error.retryable).toBe(retryable);
    expect(error.context.awsError).toBe(name);
  });
});

describe('visibleStages', () => {
  it.each([
    [['AWSCURRENT'], ['AWSCURRENT']],
    [['AWSPENDING', 'AWSCURRENT', INITIAL_LABEL], ['AWSPENDING']],
    [['AWSCURRENT', INITIAL_LABEL], []],
    [['AWSPREVIOUS', INITIAL_LABEL], []],
    [
      ['AWSCURRENT', 'AWSPENDING'],
      ['AWSCURRENT', 'AWSPENDING'],
    ],
    [['custom-label', 'AWSPREVIOUS'], ['AWSPREVIOUS']],
  ])('%j -> %j', (labels, expected) => {
    expect(visibleStages(labels)).toEqual(expected);
  });
});
