import type { KeyObject } from 'node:crypto';
import type { LeafOrder, MadeLeaf } from '../../domain/pki/leaf-issue.js';

/**
 * Messages between the signing pool and its workers. Buffers cross as plain Uint8Arrays (structured clone) and are
 * wrapped again on arrival; the issuer's private key crosses as a KeyObject, once per issuer and worker.
 */
export type ToWorker =
  /** First message: a counter the worker adds one to after each leaf answered (read by the pool without a message). */
  | { readonly type: 'counter'; readonly answered: Int32Array }
  | {
      readonly type: 'issuer';
      readonly id: number;
      readonly certificateDer: Uint8Array;
      readonly subjectName: Uint8Array;
      readonly keyId: Uint8Array;
      readonly privateKey: KeyObject;
      readonly notAfter: Date;
    }
  /** The worker drops an issuer's key: the pool holds at most a few per worker and sends one again when it is used again. */
  | { readonly type: 'forget'; readonly id: number }
  | { readonly type: 'leaf'; readonly id: number; readonly issuer: number; readonly order: LeafOrder };

export type FromWorker =
  { readonly id: number; readonly made: MadeLeaf; readonly error?: undefined } | { readonly id: number; readonly error: string };

/** A Buffer again, over the same memory, for a Uint8Array that crossed a thread. */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
