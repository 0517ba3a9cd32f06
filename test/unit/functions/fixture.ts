import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FileVault } from '../../../shared/adapters/local/file-vault.js';
import { JsonJournal } from '../../../shared/adapters/local/json-journal.js';
import { LocalEventBus } from '../../../shared/adapters/local/local-event-bus.js';
import { ManifestWriter } from '../../../shared/adapters/local/manifest-writer.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import { silentLogger, type Logger } from '../../../shared/ports/logger.js';
import type { StepMessage } from '../../../shared/ports/step-queue.js';
import type { SecretStore } from '../../../shared/ports/secret-store.js';
import type { DelayedStep } from '../../../shared/adapters/aws/sqs-step-queue.js';
import { deduplicationIdOf, messageGroupOf } from '../../../shared/adapters/aws/sqs-step-queue.js';
import type { FunctionQueue, LambdaRuntime } from '../../../functions/lib/runtime.js';
import type { SqsRecord } from '../../../functions/lib/lambda.js';

/** One root, one leaf written to dc1 (manifests on disk): small enough to issue in milliseconds. */
export const SMALL_INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
defaults: {key: ECDSA-P256, validity: 2160h, renewBefore: 720h}
clusters: [{name: dc1, context: dc1}]
authorities:
  - {name: root-ca, commonName: shop root, validity: 87600h}
certificates:
  - name: web
    issuer: root-ca
    usage: server
    commonName: web
    dnsNames: [web, web.shop.svc]
    secret: {name: web-tls, namespace: shop}
`;

/** A StepQueue like SQS as the functions see it: records what is sent, postponed and dead-lettered. */
export class RecordingQueue implements FunctionQueue {
  readonly ready: StepMessage[] = [];
  readonly delayed: { message: StepMessage; delaySeconds: number }[] = [];
  readonly postponed: { receiptHandle: string; seconds: number }[] = [];
  readonly deadLetters: { body: string; reason: string; attributes: Record<string, unknown>; queueUrl?: string }[] = [];

  async enqueue(message: StepMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    if (options.delaySeconds) this.delayed.push({ message, delaySeconds: options.delaySeconds });
    else this.ready.push(message);
  }
  async postpone(receiptHandle: string, seconds: number): Promise<void> {
    this.postponed.push({ receiptHandle, seconds });
  }
  async deadLetter(body: string, reason: string, attributes: Record<string, unknown>, queueUrl?: string): Promise<void> {
    this.deadLetters.push({ body, reason, attributes, ...(queueUrl && { queueUrl }) });
  }
  async relay(delayed: DelayedStep): Promise<'ready' | 'delayed'> {
    this.ready.push(delayed.message);
    return 'ready';
  }
  /** Takes every message queued so far (ready and delayed, in order), as the queue would deliver them. */
  take(): StepMessage[] {
    const all = [...this.ready, ...this.delayed.map((d) => d.message)];
    this.ready.length = 0;
    this.delayed.length = 0;
    return all;
  }
}

export interface TestRuntime extends LambdaRuntime {
  readonly queue: RecordingQueue;
  readonly bus: LocalEventBus;
  readonly journal: JsonJournal;
  readonly vault: FileVault;
}

export function testRuntime(
  dir: string,
  options: {
    inventory?: Inventory;
    store?: (vault: FileVault) => SecretStore;
    clusters?: Map<string, Cluster>;
    log?: Logger;
    stepMaxAttempts?: number;
  } = {},
): TestRuntime {
  const inventory = options.inventory ?? loadInventory(SMALL_INVENTORY, 'small.yaml');
  const vault = new FileVault(join(dir, 'vault'), randomBytes(32));
  const journal = new JsonJournal(join(dir, 'journal'));
  const bus = new LocalEventBus(undefined);
  const queue = new RecordingQueue();
  const clusters =
    options.clusters ??
    new Map<string, Cluster>(
      inventory.clusters.map((c) => [c.name, { name: c.name, secrets: new ManifestWriter(join(dir, 'out', c.name)) }]),
    );
  return {
    inventory,
    aws: { store: options.store ? options.store(vault) : vault, journal, events: bus, queue },
    log: options.log ?? silentLogger,
    clock: { now: () => new Date() },
    stepMaxAttempts: options.stepMaxAttempts ?? 5,
    eventsDeadLetterQueueUrl: 'http://sqs.local/000000000000/rekey-test-events-dlq',
    repairDrift: false,
    clusters: async () => clusters,
    queue,
    bus,
    journal,
    vault,
  };
}

let seq = 0;
/** An SQS record as Lambda delivers it from the FIFO queue. */
export function sqsRecord(body: string | StepMessage, options: { receiveCount?: number; group?: string } = {}): SqsRecord {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const group = options.group ?? (typeof body === 'string' ? 'shop/web' : messageGroupOf(body));
  seq++;
  return {
    messageId: `msg-${seq}`,
    receiptHandle: `rh-${seq}`,
    body: text,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      MessageGroupId: group,
      ...(typeof body !== 'string' && { MessageDeduplicationId: deduplicationIdOf(body) }),
    },
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:rekey-test-steps.fifo',
  };
}
