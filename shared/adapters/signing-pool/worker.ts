/**
 * A signing worker: makes leaves (key, certificate, signature check) for the pool in pool.ts. Each issuer arrives
 * once with its key; each leaf names its issuer by number. Errors of one leaf are answered, not thrown.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { Issuer as Signer } from '../../domain/pki/certificate.js';
import { makeLeaf } from '../../domain/pki/leaf-issue.js';
import { ANSWERS_PER_MESSAGE, asBuffer, leafOnWire, type FromWorker, type LeafAnswer, type ToWorker } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('the signing worker runs in a worker thread');

const issuers = new Map<number, { readonly signer: Signer; readonly publicKey: KeyObject }>();
let answered: Int32Array | undefined;
let answers: LeafAnswer[] = [];
let flushScheduled = false;

/** Sends the answers made so far: when a batch is full, and once the messages waiting now are all handled. */
function flush(): void {
  flushScheduled = false;
  if (answers.length) port?.postMessage(answers satisfies FromWorker);
  answers = [];
}

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
  answers.push(answer);
  if (answered) Atomics.add(answered, 0, 1);
  if (answers.length >= ANSWERS_PER_MESSAGE) flush();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}
