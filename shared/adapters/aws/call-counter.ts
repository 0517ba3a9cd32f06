import type { AwsAdapters } from './index.js';

interface WithMiddleware {
  readonly middlewareStack: { add(mw: unknown, options: { step: 'initialize'; name: string }): void };
}

/**
 * Counts the API calls the adapters make, per `Service Operation` (SDK retries of one call count once), by adding a
 * middleware to each client. For benchmarks and metrics; the counts map is the caller's.
 */
export function countAwsCalls(adapters: Pick<AwsAdapters, 'store' | 'queue' | 'events' | 'journal'>, counts: Map<string, number>): void {
  const clients: [string, unknown][] = [
    ['SecretsManager', adapters.store.client],
    ['SQS', adapters.queue.client],
    ['EventBridge', adapters.events.client],
    ['DynamoDB', adapters.journal.client],
  ];
  for (const [service, client] of clients) {
    (client as WithMiddleware).middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
        const key = `${service} ${(context.commandName ?? 'Unknown').replace(/Command$/, '')}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'rekeyCallCounter' },
    );
  }
}
