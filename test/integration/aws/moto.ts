import { randomBytes } from 'node:crypto';
import { provisionAwsResources, type ProvisionedResources } from '../../../shared/adapters/aws/provision.js';

// test/infra/env.ts (the test infrastructure's) sets AWS_ENDPOINT_URL and the fake credentials for moto. Loaded by
// name so this file compiles before it exists; without it, the environment must already point at moto.
const INFRA_ENV = '../../infra/env.js';

/** Points the AWS SDK at moto and checks that moto answers; a test that cannot reach moto fails here. */
export async function useMoto(): Promise<string> {
  try {
    const infra = (await import(/* @vite-ignore */ INFRA_ENV)) as { loadInfraEnv?: () => unknown };
    await infra.loadInfraEnv?.();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' && !/Cannot find module|Failed to load url/.test((e as Error).message)) throw e;
  }
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) throw new Error('AWS_ENDPOINT_URL is not set: start moto with `bash test/infra/up.sh moto` (the integration global setup does)');
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const res = await fetch(new URL('/moto-api/', endpoint)).catch((e: unknown) => {
    throw new Error(`moto at ${endpoint} does not answer: ${(e as Error).message}`);
  });
  if (!res.ok) throw new Error(`moto at ${endpoint} answered ${res.status}`);
  return endpoint;
}

/** A fresh set of queues, bus, rule and table under a unique prefix, so tests never see each other's messages. */
export async function freshResources(name: string, options: { stepVisibilitySeconds?: number } = {}): Promise<ProvisionedResources & { prefix: string }> {
  const prefix = `${name}-${randomBytes(4).toString('hex')}`;
  return { prefix, ...(await provisionAwsResources({ prefix, region: process.env.AWS_REGION ?? 'us-east-1', ...options })) };
}
