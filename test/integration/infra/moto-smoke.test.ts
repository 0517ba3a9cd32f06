// Smoke test of moto (test/infra): a secret's staging labels move like AWS's.
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInfraEnv, resetMoto } from '../../infra/env.js';

let sm: SecretsManagerClient;

beforeAll(async () => {
  const env = loadInfraEnv({ require: ['moto'] });
  await resetMoto();
  sm = new SecretsManagerClient({
    endpoint: env.aws.endpoint,
    region: env.aws.region,
    credentials: { accessKeyId: env.aws.accessKeyId, secretAccessKey: env.aws.secretAccessKey },
  });
});

describe('moto Secrets Manager', () => {
  it('moves AWSCURRENT to the new version and AWSPREVIOUS to the old one', async () => {
    // Prepare
    const name = `rekey/infra-smoke/${randomUUID()}`;
    const v1 = randomUUID();
    const v2 = randomUUID();
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'one', ClientRequestToken: v1 }));
    await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'two', ClientRequestToken: v2, VersionStages: ['AWSPENDING'] }),
    );

    // Act
    await sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: v2, RemoveFromVersionId: v1 }),
    );

    // Assess
    const stages = (await sm.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages ?? {};
    expect(stages[v2]).toContain('AWSCURRENT');
    expect(stages[v1]).toEqual(['AWSPREVIOUS']);
    const current = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
    expect(current).toMatchObject({ VersionId: v2, SecretString: 'two' });
    const previous = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));
    expect(previous).toMatchObject({ VersionId: v1, SecretString: 'one' });
  });

  it('forgets everything on reset', async () => {
    // Prepare
    const name = `rekey/infra-smoke/${randomUUID()}`;
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'x' }));

    // Act
    await resetMoto();

    // Assess
    await expect(sm.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
