// What a CLI command writes to, and how failures become one line on stderr and an exit status.

import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { EngineError } from '../mimicry/errors';

export interface CliOutput {
  write(text: string): unknown;
  /** Progress is drawn only on a terminal. */
  readonly isTTY?: boolean;
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

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  EMFILE: 'too many open files',
};

/**
 * Turns an error from working on `given` into a CliError: engine refusals (printed in one format,
 * naming the file and the rule) and file system errors are the user's to fix (status 2); anything
 * else is a bug (status 1).
 */
export function toCliError(e: unknown, given: string): CliError {
  if (e instanceof CliError) return e;
  if (e instanceof EngineError) {
    const detail = e.detail ? ` (${printable(e.detail)})` : '';
    return new CliError(`${printable(displayPath(e.file ?? given, given))}: ${e.text}${detail} (rule: ${e.rule})`);
  }
  if (isErrno(e) && e.code !== undefined && (e.syscall !== undefined || e.code in ERRNO_TEXT)) {
    const where = displayPath(e.path ?? given, given);
    return new CliError(`${where}: ${ERRNO_TEXT[e.code] ?? e.message}`);
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
