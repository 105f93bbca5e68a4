// The one way the extension shows a long job: a VS Code progress report with Cancel, its bar fed
// by the job's fractions, and one way to tell the user that a job failed (cancelled is not a failure).
import * as vscode from 'vscode';
import { wireOf } from '../mimicry/errors';
import type { Cancellable } from '../mimicry/worker/channel/protocol';

export interface ProgressReport {
  /** Share done, in [0, 1]; the bar never goes back. */
  readonly fraction?: number;
  readonly message?: string;
}

export interface JobProgressOptions {
  readonly title: string;
  /** A notification by default; the status bar for work the user did not ask for. */
  readonly location?: vscode.ProgressLocation;
}

/** Runs `start`'s job under a cancellable progress report; resolves or rejects as the job does. */
export function withJobProgress<T>(
  options: JobProgressOptions,
  start: (report: (r: ProgressReport) => void) => Cancellable<T>,
): Thenable<T> {
  const location = options.location ?? vscode.ProgressLocation.Notification;
  return vscode.window.withProgress({ location, title: options.title, cancellable: true }, async (progress, token) => {
    let shown = 0;
    const job = start(({ fraction, message }) => {
      const percent = fraction === undefined ? shown : 100 * Math.min(1, Math.max(0, fraction));
      progress.report({ increment: Math.max(0, percent - shown), ...(message ? { message } : {}) });
      shown = Math.max(shown, percent);
    });
    const sub = token.onCancellationRequested(() => job.cancel());
    try {
      return await job.done;
    } finally {
      sub.dispose();
    }
  });
}

/** Shows a failed job's error (naming its file and rule when it has them); a cancelled one is silent. */
export function showJobError(e: unknown, what?: string): void {
  const error = wireOf(e);
  if (error.cancelled) return;
  void vscode.window.showErrorMessage(`Neural Mimicry: ${what ? `${what}: ` : ''}${error.message}`);
}

/** The job's result, or undefined once its error (if it was not a cancel) has been shown. */
export async function orShowError<T>(job: Thenable<T>, what?: string): Promise<T | undefined> {
  try {
    return await job;
  } catch (e) {
    showJobError(e, what);
    return undefined;
  }
}
