// The HTML shell every webview uses: a strict CSP with a fresh nonce; scripts, styles, fonts and
// images only from dist/ and media/ (through asWebviewUri); no inline style, and one inline script
// (RESOURCE_WATCH, under the nonce) that reports a failed load of the page's own files.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { isResourcesFailed } from '../webview/protocol';

/**
 * code-server serves every webview from one origin, so all webviews share one service worker, and
 * each registers its own script: when two webviews start at once (the two sides of a diff editor),
 * one may load its page before a worker controls it, and its files then fail to load (a blank pane,
 * "ERR_NAME_NOT_RESOLVED" for *.vscode-cdn.net). Desktop VS Code gives each webview its own origin.
 * The page says so (ResourcesFailed), and renderWebview sets it again: by then the worker is settled.
 */
const RESOURCE_WATCH = `(() => {
  let sent = false;
  addEventListener('error', (e) => {
    const t = e.target;
    if (sent || !(t instanceof HTMLLinkElement || t instanceof HTMLScriptElement)) return;
    sent = true;
    const api = (globalThis.mimicryVsCodeApi ??= acquireVsCodeApi());
    api.postMessage({ type: 'resourcesFailed', url: String(t.href || t.src) });
  }, true);
})();`;

/** Reloads after failed loads before the page gives up (with a message saying what to do). */
const MAX_RELOADS = 3;
const RELOAD_DELAY_MS = 250;

export function webviewResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')];
}

export interface WebviewPage {
  readonly title: string;
  /** Bundle under dist/webview/, e.g. `inspector.js`. */
  readonly script: string;
  /** Stylesheet under media/, e.g. `inspector.css`. */
  readonly stylesheet: string;
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): string {
  const nonce = randomBytes(16).toString('base64');
  const uri = (...parts: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${webview.cspSource}`,
    // blob: lets charts be saved as images (the dashboard's PNG/SVG export).
    `img-src ${webview.cspSource} data: blob:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <script nonce="${nonce}">${RESOURCE_WATCH}</script>
  <link rel="stylesheet" id="vscode-codicon-stylesheet" href="${uri('dist', 'codicons', 'codicon.css')}">
  <link rel="stylesheet" href="${uri('media', page.stylesheet)}">
  <title>${escapeHtml(page.title)}</title>
</head>
<body>
  <main id="app" aria-live="polite"></main>
  <script nonce="${nonce}" src="${uri('dist', 'webview', page.script)}"></script>
</body>
</html>`;
}

/**
 * Sets the page, and sets it again (fresh nonce, so a new document) when it reports that its files
 * failed to load; after MAX_RELOADS a plain message replaces the blank page. Dispose with the panel.
 */
export function renderWebview(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): vscode.Disposable {
  let reloads = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  webview.html = webviewHtml(webview, extensionUri, page);
  const listener = webview.onDidReceiveMessage((m: unknown) => {
    if (!isResourcesFailed(m) || timer) return;
    reloads++;
    timer = setTimeout(() => {
      timer = undefined;
      webview.html = reloads <= MAX_RELOADS ? webviewHtml(webview, extensionUri, page) : failedHtml(page, m.url);
    }, RELOAD_DELAY_MS * reloads);
  });
  return new vscode.Disposable(() => {
    clearTimeout(timer);
    listener.dispose();
  });
}

function failedHtml(page: WebviewPage, url: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="default-src 'none'">
  <title>${escapeHtml(page.title)}</title>
</head>
<body>
  <p>Neural Mimicry could not load this view's files (${escapeHtml(url)}). Close this editor and open it again.</p>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
