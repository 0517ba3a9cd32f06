import { apiHandler, isHttpApiEvent, lazyApiRuntime, type ApiRuntimeSource, type HttpApiEvent, type HttpApiResult } from './api.js';
import type { AlarmSummary } from './lib/alarms.js';
import { withInvocation } from './lib/invocation.js';
import type { LambdaContext } from './lib/lambda.js';

export type { AlarmSummary } from './lib/alarms.js';

/**
 * The alert function: CloudWatch alarms from the alarm topic (SNS), and Alertmanager's webhook
 * (`POST /v1/alerts/alertmanager` through API Gateway, answered by the shared router with its auth and limits).
 * Both dedupe on DynamoDB and decide by the inventory's alert rules.
 */
export function alertHandler(runtime: ApiRuntimeSource) {
  const http = apiHandler(runtime);
  const sns = withInvocation(
    async () => (await runtime()).rt,
    // The alarm schema, the alert rules and the service are loaded by the first SNS delivery (cold start).
    async (event: unknown, inv) => (await import('./lib/alarms.js')).receiveAlarms(event, inv, await runtime()),
  );
  function handle(event: HttpApiEvent, context?: LambdaContext): Promise<HttpApiResult>;
  function handle(event: unknown, context?: LambdaContext): Promise<AlarmSummary | HttpApiResult>;
  function handle(event: unknown, context?: LambdaContext): Promise<AlarmSummary | HttpApiResult> {
    return isHttpApiEvent(event) ? http(event, context) : sns(event, context);
  }
  return handle;
}

export const handler = alertHandler(lazyApiRuntime());
