// What a CLI command writes to, and how failures become one line on stderr and an exit status.

import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { EngineError } from '../mimicry/errors';

export interface CliOutput {
  /** False when the text was queued rather than written (a stream's backpressure). */
  write(text: string): unknown;
  /** Progress is drawn only on a terminal. */
  readonly isTTY?: boolean;
  /** A stream's 'drain': the queue is written out. */
  once?(event: 'drain', listener: () => void): unknown;
}

/** Writes the pieces in order, waiting for a stream to drain when it asks to, so a long output is never queued whole. */
export async function writeAll(out: CliOutput, pieces: Iterable<string>): Promise<void> {
  for (const piece of pieces) {
    if (out.write(piece) === false && out.once) await new Promise<void>((resolve) => out.once?.('drain', resolve));
  }
}

export interface CliIO {
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
}

/** Exit statuses: 2 for anything the user can fix (bad file, bad option), 1 for our own bugs. */
export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_USAGE = 2;

/** A failure already phrased for the user; runCli prints `mimicry: <message>` and exits. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
  }
}

/** Control characters from untrusted names would drive the terminal; show them as escapes. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The path as the user typed it when it is the one they gave, else relative to cwd when inside it. */
export function displayPath(file: string, given?: string): string {
  if (given !== undefined && path.resolve(given) === path.resolve(file)) return given;
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string';
}

/**
 * File system errors the user can fix: each a plain text and a stable rule, as engine refusals
 * have (the engine itself turns ELOOP and non-regular files into its own rules of the same names).
 */
export const ERRNO: Readonly<Record<string, { readonly rule: string; readonly text: string }>> = {
  ENOENT: { rule: 'file-not-found', text: 'no such file' },
  EACCES: { rule: 'permission-denied', text: 'permission denied' },
  EPERM: { rule: 'permission-denied', text: 'operation not permitted' },
  EISDIR: { rule: 'not-a-regular-file', text: 'is a directory, not a file' },
  ENXIO: { rule: 'not-a-regular-file', text: 'is a socket or a device, not a file' },
  ENODEV: { rule: 'not-a-regular-file', text: 'is a device, not a file' },
  ENOTDIR: { rule: 'not-a-directory', text: 'a part of the path is not a directory' },
  ELOOP: { rule: 'symlink-loop', text: 'symbolic links loop (or nest too deeply) and never reach a file' },
  ENAMETOOLONG: { rule: 'name-too-long', text: 'the path, or a name in it, is too long' },
  EMFILE: { rule: 'too-many-open-files', text: 'too many open files' },
  ENFILE: { rule: 'too-many-open-files', text: 'too many open files on this system' },
  EIO: { rule: 'io-error', text: 'input/output error (a failing disk or network file system?)' },
  EBUSY: { rule: 'file-busy', text: 'the file or device is busy' },
  ETXTBSY: { rule: 'file-busy', text: 'the file is busy' },
  EAGAIN: { rule: 'file-busy', text: 'the file is not ready (try again)' },
  ENOSPC: { rule: 'no-space', text: 'no space left on the device' },
  EDQUOT: { rule: 'no-space', text: 'disk quota exceeded' },
  EFBIG: { rule: 'file-too-large', text: 'the file is too large for the file system' },
  EROFS: { rule: 'read-only', text: 'the file system is read-only' },
  EEXIST: { rule: 'file-exists', text: 'a file of that name is already there' },
  ENOTEMPTY: { rule: 'folder-not-empty', text: 'the folder is not empty' },
  EXDEV: { rule: 'cross-device', text: 'cannot move a file across file systems' },
  ESTALE: { rule: 'io-error', text: 'stale file handle (a network file system?)' },
};

/** Any other error of the file system: its code says what it is. */
export const OTHER_ERRNO = { rule: 'file-system-error', text: 'file system error' };

/**
 * Turns an error from working on `given` into a CliError: engine refusals and file system errors
 * are the user's to fix (status 2), printed as one line naming the file, the rule in plain words,
 * the specifics and the rule; anything else is a bug (status 1).
 */
export function toCliError(e: unknown, given: string): CliError {
  if (e instanceof CliError) return e;
  if (e instanceof EngineError) {
    const detail = e.detail ? ` (${printable(e.detail)})` : '';
    return new CliError(`${printable(displayPath(e.file ?? given, given))}: ${e.text}${detail} (rule: ${e.rule})`);
  }
  if (isErrno(e) && e.code !== undefined && (e.syscall !== undefined || e.code in ERRNO)) {
    const where = printable(displayPath(e.path ?? given, given));
    const known = ERRNO[e.code];
    const text = known ? known.text : `${OTHER_ERRNO.text} (${printable(e.code)})`;
    return new CliError(`${where}: ${text} (rule: ${(known ?? OTHER_ERRNO).rule})`);
  }
  if (e instanceof Error && e.name === 'AbortError') return new CliError('cancelled', 130);
  const message = e instanceof Error ? e.message : String(e);
  return new CliError(`internal error: ${message}`, EXIT_INTERNAL);
}

/** Creates the folders the output files go into (like `mkdir -p`); a failure names the folder. */
export async function ensureOutputFolders(files: readonly (string | undefined)[]): Promise<void> {
  for (const f of files) {
    if (f === undefined) continue;
    const dir = path.dirname(path.resolve(f));
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new CliError(`cannot create the output folder ${printable(dir)}: ${printable(why)}`, EXIT_USAGE);
    }
  }
}
