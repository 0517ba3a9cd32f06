import { randomBytes } from 'node:crypto';
import { provisionAwsResources, type ProvisionedResources } from '../../../shared/adapters/aws/provision.js';
import { loadInfraEnv, type InfraComponent } from '../../infra/env.js';

/** Points the AWS SDK at the test infrastructure's moto and checks that it answers; a test that cannot reach it fails. */
export async function useMoto(components: InfraComponent[] = ['moto']): Promise<string> {
  const endpoint = loadInfraEnv({ require: components }).aws.endpoint;
  const res = await fetch(new URL('/moto-api/', endpoint)).catch((e: unknown) => {
    throw new Error(`moto at ${endpoint} does not answer (bash test/infra/status.sh): ${(e as Error).message}`);
  });
  if (!res.ok) throw new Error(`moto at ${endpoint} answered ${res.status}`);
  return endpoint;
}

/** A fresh set of queues, bus, rule and table under a unique prefix, so tests never see each other's messages. */
export async function freshResources(
  name: string,
  options: { stepVisibilitySeconds?: number } = {},
): Promise<ProvisionedResources & { prefix: string }> {
  const prefix = `${name}-${randomBytes(4).toString('hex')}`;
  return { prefix, ...(await provisionAwsResources({ prefix, region: process.env.AWS_REGION ?? 'us-east-1', ...options })) };
}
