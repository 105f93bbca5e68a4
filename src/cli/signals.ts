// Stopping and cleaning up. Ctrl-C (SIGINT), SIGTERM and a closed terminal (SIGHUP) abort the
// running command, whose writers then remove their temporary files; the status is the shell's
// 128 + signal number. A kill -9 cannot be caught: its temporary files (the output's, beside it, and
// the template scratch in the temp folder) are removed by the next run, which says so.
import * as os from 'node:os';
import * as path from 'node:path';
import { removeStaleTemps } from '../mimicry/io/atomicFile';
import { removeStaleScratch } from '../mimicry/recast/store';
import { CliError, type CliIO } from './io';

/** 128 + the signal's number, as shells report a process ended by it. */
export const SIGNAL_EXIT: Readonly<Record<StopSignal, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

export type StopSignal = 'SIGHUP' | 'SIGINT' | 'SIGTERM';
const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface StopSignals {
  /** Aborted by the first stop signal. */
  readonly signal: AbortSignal;
  /** The signal that stopped the command, if one did. */
  readonly received: StopSignal | undefined;
  /** The error to end the command with once it has stopped (status 128 + signal). */
  stopped(): CliError;
  /** Stops listening; a later signal ends the process the default way. */
  dispose(): void;
}

/**
 * Listens for the stop signals until dispose(). Each listener fires once, so a second Ctrl-C while
 * the command cleans up ends the process at once.
 */
export function onStopSignals(): StopSignals {
  const abort = new AbortController();
  let received: StopSignal | undefined;
  const listeners = STOP_SIGNALS.map((sig) => {
    const fn = () => {
      received ??= sig;
      abort.abort();
    };
    process.once(sig, fn);
    return [sig, fn] as const;
  });
  return {
    signal: abort.signal,
    get received() {
      return received;
    },
    stopped: () =>
      new CliError(
        received === 'SIGINT' || received === undefined ? 'cancelled' : `stopped by ${received}`,
        SIGNAL_EXIT[received ?? 'SIGINT'],
      ),
    dispose() {
      for (const [sig, fn] of listeners) process.removeListener(sig, fn);
    },
  };
}

/**
 * Removes the temporary files that killed runs left in the output folders (the outputs' atomic
 * temporaries, and template scratch of older versions) and in the temp folder (template scratch):
 * only files named by our pattern whose process is gone. One line on stderr when it removed any.
 */
export async function removeStaleTemporaries(outputs: readonly (string | undefined)[], io: CliIO): Promise<number> {
  const dirs = new Set(outputs.filter((f): f is string => f !== undefined).map((f) => path.dirname(path.resolve(f))));
  let removed = (await removeStaleScratch([os.tmpdir()])).length;
  for (const dir of dirs) removed += (await removeStaleTemps(dir)).length;
  if (removed > 0) io.stderr.write(`mimicry: removed ${removed} stale temporary file${removed === 1 ? '' : 's'} of stopped runs\n`);
  return removed;
}
