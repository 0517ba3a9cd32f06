import type { RekeyEvent } from '../domain/events/types.js';

export interface EventBus {
  /** Publishes events in order; implementations reject events carrying secrets (assertNoSecrets). */
  publish(events: readonly RekeyEvent[]): Promise<void>;
}
