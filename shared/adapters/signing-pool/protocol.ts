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

/** A made leaf as it crosses: its signed bytes and signature as Uint8Arrays of their own (see ownBytes). */
export type LeafOnWire = Omit<MadeLeaf, 'tbs' | 'signature'> & { readonly tbs: Uint8Array; readonly signature: Uint8Array };

export type LeafAnswer =
  { readonly id: number; readonly made: LeafOnWire; readonly error?: undefined } | { readonly id: number; readonly error: string };

/** The worker's answers go in batches: one message per leaf cost each thread a message event per certificate. */
export type FromWorker = readonly LeafAnswer[];

/** Answers one message carries at most: the first of a long queue are not held back until the last is made. */
export const ANSWERS_PER_MESSAGE = 16;

/** A leaf for the wire: only its own bytes are copied. */
export const leafOnWire = (made: MadeLeaf): LeafOnWire => ({ ...made, tbs: ownBytes(made.tbs), signature: ownBytes(made.signature) });

/**
 * The bytes alone, for a message: a structured clone copies a view's whole ArrayBuffer, and the signed bytes of a leaf
 * are a view of 352 bytes or so over Node's 8 KiB buffer pool, which each answer then carried (and the main thread
 * kept for as long as it kept the leaf).
 */
export const ownBytes = (bytes: Uint8Array): Uint8Array => (bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes));

/** A Buffer again, over the same memory, for a Uint8Array that crossed a thread. */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
