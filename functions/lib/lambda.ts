/** The few shapes of AWS Lambda's events this project handles (no @types/aws-lambda needed for so little). */

export interface LambdaContext {
  readonly awsRequestId: string;
  readonly functionName?: string;
  getRemainingTimeInMillis(): number;
}

export interface SqsRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string | undefined>> & {
    readonly ApproximateReceiveCount?: string;
    readonly MessageGroupId?: string;
  };
  readonly eventSource?: string;
  readonly eventSourceARN?: string;
}

export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}

/** Partial batch response (the event source mapping has ReportBatchItemFailures). */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export interface EventBridgeEvent {
  readonly id?: string;
  readonly source: string;
  readonly 'detail-type': string;
  readonly time?: string;
  readonly detail: unknown;
}

/** Time kept back from Lambda's limit to record an outcome after waits are cut short. */
export const TIME_MARGIN_MS = 10_000;

/**
 * An AbortSignal that fires `marginMs` before the invocation times out, so long waits (rollouts, backoff) stop in
 * time to record where they got to. `dispose` clears the timer.
 */
export function remainingTimeSignal(
  context: LambdaContext | undefined,
  marginMs = TIME_MARGIN_MS,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  if (!context) return { signal: controller.signal, dispose: () => undefined };
  const left = Math.max(0, context.getRemainingTimeInMillis() - marginMs);
  const timer = setTimeout(() => controller.abort(new Error('the invocation is about to time out')), left);
  timer.unref();
  return { signal: controller.signal, dispose: () => clearTimeout(timer) };
}
