import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { checkBackendFor } from '../../../cli/backend.js';
import { resolveStackNames } from '../../../cli/compose-aws.js';
import { UsageError } from '../../../shared/domain/errors.js';

const cfn = mockClient(CloudFormationClient);
afterEach(() => cfn.reset());

const env = {
  AWS_REGION: 'eu-west-1',
  REKEY_JOURNAL_TABLE: 'env-table',
  REKEY_STEP_QUEUE_URL: 'https://sqs/env-steps.fifo',
  REKEY_EVENT_BUS: 'env-bus',
};

describe('resolveStackNames', () => {
  it('takes the functions environment variables', async () => {
    // Act
    const names = await resolveStackNames({}, env);
    // Assess
    expect(names).toEqual({
      region: 'eu-west-1',
      journalTable: 'env-table',
      stepQueueUrl: 'https://sqs/env-steps.fifo',
      eventBusName: 'env-bus',
    });
  });

  it('prefers a flag to a stack output, and a stack output to the environment', async () => {
    // Prepare
    cfn.on(DescribeStacksCommand, { StackName: 'rekey-prod' }).resolves({
      Stacks: [
        {
          StackName: 'rekey-prod',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            { OutputKey: 'JournalTableName', OutputValue: 'stack-table' },
            { OutputKey: 'StepQueueUrl', OutputValue: 'https://sqs/stack-steps.fifo' },
            { OutputKey: 'DelayQueueUrl', OutputValue: 'https://sqs/stack-delay' },
            { OutputKey: 'EventBusName', OutputValue: 'stack-bus' },
          ],
        },
      ],
    });
    // Act
    const names = await resolveStackNames({ stack: 'rekey-prod', eventBus: 'flag-bus', region: 'us-west-2' }, env);
    // Assess
    expect(names).toEqual({
      region: 'us-west-2',
      journalTable: 'stack-table',
      stepQueueUrl: 'https://sqs/stack-steps.fifo',
      delayQueueUrl: 'https://sqs/stack-delay',
      eventBusName: 'flag-bus',
    });
  });

  it('names everything missing in one usage error', async () => {
    const error = await resolveStackNames({ table: 't' }, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      '--backend aws: missing the region (--region or AWS_REGION), the step queue (--queue-url or REKEY_STEP_QUEUE_URL), the event bus (--event-bus or REKEY_EVENT_BUS); or give --stack NAME',
    );
  });

  it('says which output a stack lacks, and refuses a stack that does not exist', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'half' }).resolves({
      Stacks: [
        {
          StackName: 'half',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [{ OutputKey: 'EventBusName', OutputValue: 'b' }],
        },
      ],
    });
    await expect(resolveStackNames({ stack: 'half' }, { AWS_REGION: 'eu-west-1' })).rejects.toThrow(
      'the journal table (--table or REKEY_JOURNAL_TABLE (stack half has no output JournalTableName))',
    );
    cfn
      .on(DescribeStacksCommand, { StackName: 'gone' })
      .rejects(Object.assign(new Error('Stack with id gone does not exist'), { name: 'ValidationError' }));
    await expect(resolveStackNames({ stack: 'gone' }, { AWS_REGION: 'eu-west-1' })).rejects.toThrow(
      new UsageError('--stack gone: no such stack in eu-west-1'),
    );
    await expect(resolveStackNames({ stack: 'any' }, {})).rejects.toThrow('--stack any needs the region');
  });
});

describe('checkBackendFor', () => {
  it.each(['status', 'plan', 'inspect', 'rotate', 'rollback', 'export', 'report', 'validate'])('%s works with --backend aws', (command) => {
    expect(() => checkBackendFor(command, { state: '.rekey', backend: 'aws' })).not.toThrow();
  });

  it.each([
    ['apply', 'schedule function'],
    ['scan', 'schedule function'],
    ['recover', 'take over'],
    ['serve', 'embedded state folder'],
  ])('%s is refused with --backend aws, saying why', (command, why) => {
    expect(() => checkBackendFor(command, { state: '.rekey', backend: 'aws' })).toThrow(UsageError);
    expect(() => checkBackendFor(command, { state: '.rekey', backend: 'aws' })).toThrow(why);
  });

  it('refuses the stack flags on the local backend', () => {
    expect(() => checkBackendFor('status', { state: '.rekey', backend: 'local', stack: 's', region: 'r' })).toThrow(
      '--region, --stack: only with --backend aws (or REKEY_BACKEND=aws)',
    );
  });
});
