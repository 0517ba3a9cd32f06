/**
 * A signing worker: makes leaves (key, certificate, signature check) for the pool in pool.ts. Each issuer arrives
 * once with its key; each leaf names its issuer by number. Errors of one leaf are answered, not thrown.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { Issuer as Signer } from '../../domain/pki/certificate.js';
import { makeLeaf } from '../../domain/pki/leaf-issue.js';
import { TurnBatch } from '../turn-batch.js';
import { ANSWERS_PER_MESSAGE, asBuffer, leafOnWire, type FromWorker, type LeafAnswer, type ToWorker } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('the signing worker runs in a worker thread');

const issuers = new Map<number, { readonly signer: Signer; readonly publicKey: KeyObject }>();
let answered: Int32Array | undefined;
/** Answers go when a batch is full, and once the messages waiting now are all handled. */
const answers = new TurnBatch<LeafAnswer>((batch) => port.postMessage(batch satisfies FromWorker), ANSWERS_PER_MESSAGE);

port.on('message', handle);

function handle(m: ToWorker): void {
  if (m.type === 'counter') {
    answered = m.answered;
    return;
  }
  if (m.type === 'forget') {
    issuers.delete(m.id);
    return;
  }
  if (m.type === 'issuer') {
    const certificateDer = asBuffer(m.certificateDer);
    const signer: Signer = {
      certificateDer,
      subjectName: asBuffer(m.subjectName),
      keyId: asBuffer(m.keyId),
      privateKey: m.privateKey,
      notAfter: m.notAfter,
    };
    issuers.set(m.id, { signer, publicKey: new X509Certificate(certificateDer).publicKey });
    return;
  }
  let answer: LeafAnswer;
  try {
    const issuer = issuers.get(m.issuer);
    if (!issuer) throw new Error(`issuer ${m.issuer} was never sent to this worker`);
    answer = { id: m.id, made: leafOnWire(makeLeaf(m.order, issuer.signer, issuer.publicKey)) };
  } catch (e) {
    answer = { id: m.id, error: e instanceof Error ? e.message : String(e) };
  }
  if (answered) Atomics.add(answered, 0, 1);
  answers.push(answer);
}
