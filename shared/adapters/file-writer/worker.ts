/**
 * The file writer's thread: runs the atomic writers of atomic-file.ts with synchronous file calls (see fd-calls.ts)
 * and answers each request's outcomes. Requests are taken in order; a group commit's filesystem sync is the only
 * wait, during which later requests may start (they name other files, as the in-process writers would allow).
 */
import { parentPort } from 'node:worker_threads';
import { appendDurably, writeFileAtomic, writeFilesAtomic } from '../local/atomic-file.js';
import { syncFdCalls } from '../local/fd-calls.js';
import { appendIfAllWritten } from '../local/file-writes.js';
import { TurnBatch } from '../turn-batch.js';
import { errorOnWire, type FileOutcome, type FromFileWriter, type ToFileWriter } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('the file writer runs in a worker thread');

const answers = new TurnBatch<FromFileWriter[number]>((batch) => port.postMessage(batch satisfies FromFileWriter));
const answer = (id: number, outcomes: readonly FileOutcome[]): void => answers.push({ id, outcomes });

const outcomeOf = (s: PromiseSettledResult<void>): FileOutcome =>
  s.status === 'fulfilled' ? { ok: true } : { ok: false, error: errorOnWire(s.reason) };

port.on('message', (m: ToFileWriter) => {
  if (m.type === 'durably') {
    const { append } = m;
    void writeFilesAtomic(m.files, syncFdCalls)
      .then((settled) =>
        append
          ? appendIfAllWritten(settled, () => appendDurably(append.path, append.data, syncFdCalls))
          : { files: settled, appended: undefined },
      )
      .then(
        ({ files, appended }) => answer(m.id, [...files, ...(appended ? [appended] : [])].map(outcomeOf)),
        (e: unknown) =>
          answer(
            m.id,
            m.files.map(() => ({ ok: false, error: errorOnWire(e) })),
          ),
      );
    return;
  }
  if (m.type === 'append') {
    void appendDurably(m.path, m.data, syncFdCalls).then(
      () => answer(m.id, [{ ok: true }]),
      (e: unknown) => answer(m.id, [{ ok: false, error: errorOnWire(e) }]),
    );
    return;
  }
  for (const f of m.files) {
    void writeFileAtomic(f.path, f.data, {
      durable: false,
      folderMade: f.folderMade,
      calls: syncFdCalls,
      ...(f.mode !== undefined && { mode: f.mode }),
    }).then(
      () => answer(f.id, [{ ok: true }]),
      (e: unknown) => answer(f.id, [{ ok: false, error: errorOnWire(e) }]),
    );
  }
});
