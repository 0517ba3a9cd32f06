import type { Inventory } from '../../domain/inventory/model.js';
import type { RotationRecord } from '../../domain/rotation/record.js';
import type { Deps } from '../deps.js';
import type { AlertService } from '../alerts/service.js';
import type { ItemSummaries } from './item-summaries.js';
import type { LogLevel } from './schemas.js';

/** A named readiness check (`/readyz`): the store answers, the clusters answer. */
export interface ReadinessCheck {
  readonly name: string;
  readonly check: (signal: AbortSignal) => Promise<void>;
}

/** What the routes work with; each runtime (serve, Lambda) builds one. */
export interface ApiBackend {
  readonly inventory: Inventory;
  readonly deps: Deps;
  readonly version: string;
  /** `serve` or `lambda`, reported by /version. */
  readonly runtime: string;
  /** After a rotation was recorded and queued: serve drives it in this process; on AWS the step queue does. */
  readonly rotationStarted?: (record: RotationRecord) => void;
  readonly readiness?: readonly ReadinessCheck[];
  /** Prometheus text of this process. */
  readonly metrics?: () => Promise<{ contentType: string; text: string }>;
  readonly logLevel: { get(): LogLevel; set(level: LogLevel): void };
  /** Makes AWSPREVIOUS current again, resyncs, restarts (the rollback use case), when this build has one. */
  readonly rollback?: (item: string, reason: string) => Promise<unknown>;
  readonly alerts?: AlertService;
  /** The read model of `GET /v1/items` (status of every unit), kept until a write or its age bound. */
  readonly itemSummaries: ItemSummaries;
}
