// The one error shape of the project. Every refusal the engine makes is an EngineError: it names
// the file it is about (when there is one) and a stable rule from a closed union, so the CLI, the
// extension and the webviews can all show it the same way. Across a thread or webview boundary an
// error travels as a WireError, built by toWireError and nowhere else.

/** An error as it crosses a wire (worker to host, host to webview): plain, postable data. */
export interface WireError {
  readonly message: string;
  /** The file the error is about, when there is one. */
  readonly file?: string;
  /** The stable rule code of an EngineError (e.g. "header-not-json"). */
  readonly rule?: string;
  /** True when the work stopped because it was cancelled: nothing to show as an error. */
  readonly cancelled: boolean;
}

/**
 * Base of every engine refusal. Subclasses fix the rule union and its plain-words text; the message
 * reads `<file>: <rule text> (<detail>) [<rule>]`, or without the file when there is none.
 */
export abstract class EngineError<R extends string = string> extends Error {
  constructor(
    /** Path of the file the error is about, when there is one. */
    readonly file: string | undefined,
    readonly rule: R,
    /** The rule in plain words. */
    readonly text: string,
    /** Specifics (which tensor, which values); appended to the rule's text. */
    readonly detail?: string,
  ) {
    super(`${file ? `${file}: ` : ''}${text}${detail ? ` (${detail})` : ''} [${rule}]`);
  }
}

/**
 * The class of one family of engine errors, from its name and each rule's text. Thrown as
 * `new X(rule, detail?, file?)`; `instanceof` works on the family and on EngineError.
 */
export function engineErrorClass<R extends string>(name: string, texts: Readonly<Record<R, string>>) {
  return class extends EngineError<R> {
    override readonly name = name;
    constructor(rule: R, detail?: string, file?: string) {
      super(file, rule, texts[rule], detail);
    }
  };
}

/** What AbortSignal.throwIfAborted() throws for a plain abort(): a DOMException named AbortError. */
export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/** The wire form of any thrown value; `signal` marks it cancelled when its job was aborted. */
export function toWireError(err: unknown, signal?: AbortSignal): WireError {
  const cancelled = signal?.aborted === true || isAbortError(err);
  if (cancelled) return { message: 'cancelled', cancelled };
  if (err instanceof EngineError)
    return { message: err.message, ...(err.file !== undefined ? { file: err.file } : {}), rule: err.rule, cancelled };
  return { message: err instanceof Error ? err.message : String(err), cancelled };
}

/** The wire form of a cancelled job. */
export const CANCELLED: WireError = { message: 'cancelled', cancelled: true };

/** A WireError received back on the host side, as something to throw and catch. */
export class RemoteError extends Error {
  override readonly name = 'RemoteError';
  constructor(readonly wire: WireError) {
    super(wire.message);
  }
  get cancelled(): boolean {
    return this.wire.cancelled;
  }
}

/** The wire form of whatever a job rejected with (RemoteError keeps its own). */
export function wireOf(err: unknown): WireError {
  return err instanceof RemoteError ? err.wire : toWireError(err);
}
