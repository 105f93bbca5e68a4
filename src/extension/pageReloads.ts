// When a webview's page is set again. code-server serves every webview from one origin, so all share
// one service worker, and each registers its own: when two webviews start at once (the two sides of
// a diff editor), one may load before a worker controls it. Then either its files fail (the page's
// watch script reports it: set the page again, a little later each time) or its document itself
// fails, and no script of ours runs (a page that says nothing: set it again too). Desktop VS Code
// gives each webview its own origin. No vscode import: tests drive it with mock timers.
import { isResourcesFailed } from '../webview/protocol';

/**
 * Reloads before the page gives up (after a reported failure, with a message saying what to do). On a
 * busy machine the winning page's worker can take seconds to take over: the delays double (250 ms to
 * 4 s, about 8 s in all) so the last tries come after it has.
 */
export const MAX_RELOADS = 5;
export const RELOAD_DELAY_MS = 250;

/** How long a page that reported failed files waits before reload `attempt` (1, 2, ...). */
export function reloadDelay(attempt: number): number {
  return RELOAD_DELAY_MS * 2 ** (attempt - 1);
}
/** A page that has said nothing this long after being set is set again (every page posts `ready` when its script starts). */
export const SILENT_PAGE_MS = 5000;

/** What to show: the page (attempt 0 first, then reloads), or the failure message once reloads are spent. */
export type PageToSet = { readonly kind: 'page'; readonly attempt: number } | { readonly kind: 'failed'; readonly url: string };

export interface PageWatch {
  /** Every message the page posts (any message says it runs). */
  onMessage(message: unknown): void;
  dispose(): void;
}

/** Sets the page at once through `set`, and again as the rules above say. */
export function watchPage(set: (what: PageToSet) => void): PageWatch {
  let reloads = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let silence: ReturnType<typeof setTimeout> | undefined;
  const show = (what: PageToSet): void => {
    set(what);
    clearTimeout(silence);
    silence = what.kind === 'page' && reloads < MAX_RELOADS ? setTimeout(() => reload(), SILENT_PAGE_MS) : undefined;
  };
  const reload = (failedUrl?: string): void => {
    reloads++;
    show(reloads > MAX_RELOADS && failedUrl !== undefined ? { kind: 'failed', url: failedUrl } : { kind: 'page', attempt: reloads });
  };
  show({ kind: 'page', attempt: 0 });
  return {
    onMessage(message) {
      clearTimeout(silence);
      silence = undefined;
      if (!isResourcesFailed(message) || retry) return;
      retry = setTimeout(
        () => {
          retry = undefined;
          reload(message.url);
        },
        reloadDelay(reloads + 1),
      );
    },
    dispose() {
      clearTimeout(retry);
      clearTimeout(silence);
    },
  };
}
