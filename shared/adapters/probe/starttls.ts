import type { Socket } from 'node:net';
import { ProbeError, ProbeFailure, StartTls } from '../../ports/prober.js';
import { defined } from '../../domain/defined.js';

/** PostgreSQL's SSLRequest: length 8, then the request code 80877103 (0x04d2162f). */
const POSTGRES_SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Reads exactly one byte, or fails when the peer closes first. */
function readByte(socket: Socket, endpoint: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      cleanup();
      socket.pause();
      // The server sends nothing else before the client's TLS hello; more would be a protocol error.
      if (chunk.length > 1) reject(new ProbeError(ProbeFailure.StartTls, `${endpoint}: unexpected data after the answer to SSLRequest`));
      else resolve(defined(chunk[0]));
    };
    const onEnd = () => {
      cleanup();
      reject(new ProbeError(ProbeFailure.StartTls, `${endpoint}: connection closed before the answer to SSLRequest`));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
  });
}

async function postgres(socket: Socket, endpoint: string): Promise<void> {
  socket.write(POSTGRES_SSL_REQUEST);
  const answer = await readByte(socket, endpoint);
  if (answer === 0x53 /* S */) return;
  if (answer === 0x4e /* N */)
    throw new ProbeError(ProbeFailure.StartTls, `${endpoint}: PostgreSQL refused TLS (answered N to SSLRequest: ssl = off?)`);
  throw new ProbeError(
    ProbeFailure.StartTls,
    `${endpoint}: not a PostgreSQL answer to SSLRequest (byte 0x${answer.toString(16).padStart(2, '0')})`,
  );
}

/** Asks the server on a connected plaintext socket to switch to TLS; resolves when the TLS hello may be sent. */
export function startTls(protocol: StartTls, socket: Socket, endpoint: string): Promise<void> {
  switch (protocol) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- one protocol today; the switch makes the next one a compile error
    case StartTls.Postgres:
      return postgres(socket, endpoint);
    default: {
      const never: never = protocol;
      throw new Error(`unknown STARTTLS protocol ${String(never)}`);
    }
  }
}
