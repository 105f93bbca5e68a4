// One self-overwriting status line on stderr, only when stderr is a terminal (never in pipes or logs).

import type { CliOutput } from './io';
import { printable } from './io';

export interface Progress {
  update(text: string): void;
  done(): void;
}

const QUIET: Progress = { update: () => undefined, done: () => undefined };

export function progressOn(stream: CliOutput, minIntervalMs = 100): Progress {
  if (!stream.isTTY) return QUIET;
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < minIntervalMs) return;
      last = now;
      shown = true;
      stream.write(`\r\x1b[K${printable(text).slice(0, 120)}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
