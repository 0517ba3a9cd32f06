import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { awsOptionsFromEnv, createAwsAdapters } from '../../../../shared/adapters/aws/index.js';
import { RekeyError, UsageError } from '../../../../shared/domain/errors.js';

const ENV = {
  REKEY_STEP_QUEUE_URL: 'http://127.0.0.1:5000/000000000000/rekey-dev-steps.fifo',
  REKEY_DELAY_QUEUE_URL: 'http://127.0.0.1:5000/000000000000/rekey-dev-delay',
  REKEY_DLQ_URL: 'http://127.0.0.1:5000/000000000000/rekey-dev-steps-dlq.fifo',
  REKEY_EVENT_BUS: 'rekey-dev',
  REKEY_JOURNAL_TABLE: 'rekey-dev-journal',
  REKEY_KMS_KEY_ID: 'alias/rekey',
  AWS_REGION: 'eu-west-1',
  REKEY_AWS_MAX_ATTEMPTS: '3',
};

describe('awsOptionsFromEnv', () => {
  it('reads every setting from the environment', () => {
    expect(awsOptionsFromEnv(ENV)).toEqual({
      stepQueueUrl: ENV.REKEY_STEP_QUEUE_URL,
      delayQueueUrl: ENV.REKEY_DELAY_QUEUE_URL,
      deadLetterQueueUrl: ENV.REKEY_DLQ_URL,
      eventBusName: 'rekey-dev',
      journalTable: 'rekey-dev-journal',
      kmsKeyId: 'alias/rekey',
      region: 'eu-west-1',
      maxAttempts: 3,
    });
  });

  it('names every missing variable at once', () => {
    expect(() => awsOptionsFromEnv({})).toThrow(
      new UsageError('missing environment variable(s): REKEY_STEP_QUEUE_URL, REKEY_JOURNAL_TABLE'),
    );
  });

  it('rejects a malformed attempt count', () => {
    expect(() => awsOptionsFromEnv({ ...ENV, REKEY_AWS_MAX_ATTEMPTS: 'lots' })).toThrow(/REKEY_AWS_MAX_ATTEMPTS=lots/);
  });
});

describe('createAwsAdapters', () => {
  it('wires the four adapters, with the region, attempts and adaptive retries on every client', async () => {
    // Act
    const a = createAwsAdapters(awsOptionsFromEnv(ENV));

    // Assess
    for (const client of [a.store.client, a.queue.client, a.events.client, a.journal.client]) {
      expect(await client.config.region()).toBe('eu-west-1');
      expect(await client.config.maxAttempts()).toBe(3);
      expect(await client.config.retryStrategy()).toHaveProperty('mode', 'adaptive');
    }
  });

  it('uses injected clients', () => {
    // Prepare
    const sqs = new SQSClient({ region: 'us-east-1' });

    // Act
    const a = createAwsAdapters({ stepQueueUrl: ENV.REKEY_STEP_QUEUE_URL, journalTable: 't', clients: { sqs } });

    // Assess
    expect(a.queue.client).toBe(sqs);
  });

  it('rejects unknown options', () => {
    expect(() => createAwsAdapters({ stepQueueUrl: ENV.REKEY_STEP_QUEUE_URL, journalTable: 't', tableName: 'x' } as never)).toThrow(
      RekeyError,
    );
  });

  it('leaves the endpoint to the SDK, which honours AWS_ENDPOINT_URL (how tests reach moto)', async () => {
    // Prepare: a local HTTP server that answers like Secrets Manager for a missing secret.
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${String(req.headers['x-amz-target'] ?? '')}`);
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'no such secret' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const before = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // Act
      const a = createAwsAdapters({ stepQueueUrl: ENV.REKEY_STEP_QUEUE_URL, journalTable: 't', region: 'us-east-1', maxAttempts: 1 });
      (a.store.client.config as { credentials: unknown }).credentials = async () => ({ accessKeyId: 'test', secretAccessKey: 'test' });
      const v = await a.store.getVersion('rekey/shop/web');

      // Assess
      expect(v).toBeUndefined();
      expect(seen).toEqual(['POST secretsmanager.GetSecretValue']);
    } finally {
      if (before === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = before;
      server.close();
    }
  });
});
