import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { UsageError } from '../../domain/errors.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { awsErrorName, translateAwsError } from './errors.js';

/** The outputs serverless.yml declares for a deployed rekey stack, by the name a client looks them up with. */
export const StackOutput = {
  stepQueueUrl: 'StepQueueUrl',
  delayQueueUrl: 'DelayQueueUrl',
  stepDeadLetterQueueUrl: 'StepDeadLetterQueueUrl',
  eventBusName: 'EventBusName',
  journalTable: 'JournalTableName',
} as const;

export interface StackOutputOptions extends AwsClientSettings {
  /** A client to use instead of a new one (tests). */
  readonly client?: CloudFormationClient;
}

/**
 * The outputs of a CloudFormation stack (one DescribeStacks call), OutputKey -> OutputValue. A stack that does not
 * exist is a usage error naming it; any other failure is translated like every AWS call.
 */
export async function readStackOutputs(stackName: string, options: StackOutputOptions = {}): Promise<Record<string, string>> {
  const client = options.client ?? new CloudFormationClient(clientConfig(options));
  const missing = () => new UsageError(`--stack ${stackName}: no such stack${options.region ? ` in ${options.region}` : ''}`);
  let out;
  try {
    out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (e) {
    // CloudFormation answers a missing stack with a ValidationError ("Stack with id X does not exist").
    if (awsErrorName(e) === 'ValidationError' && /does not exist/i.test((e as Error).message)) throw missing();
    throw translateAwsError(e, { operation: 'CloudFormation DescribeStacks', target: stackName });
  }
  const stack = out.Stacks?.[0];
  if (!stack) throw missing();
  const outputs: Record<string, string> = {};
  for (const o of stack.Outputs ?? []) if (o.OutputKey && o.OutputValue !== undefined) outputs[o.OutputKey] = o.OutputValue;
  return outputs;
}
