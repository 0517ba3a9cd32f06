/** A one-line progress indicator on stderr, only when it is a terminal and output is not JSON. */
export interface Progress {
  update(message: string): void;
  done(): void;
}

export function progressFor(json: boolean): Progress {
  const tty = process.stderr.isTTY && !json;
  if (!tty) return { update() {}, done() {} };
  let last = 0;
  return {
    update(message) {
      const now = Date.now();
      if (now - last < 80) return;
      last = now;
      process.stderr.write(`\r\x1b[2K${message.slice(0, (process.stderr.columns || 80) - 1)}`);
    },
    done() {
      process.stderr.write('\r\x1b[2K');
    },
  };
}
