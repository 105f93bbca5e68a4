// The HTML shell every webview uses: a strict CSP with a fresh nonce; scripts, styles, fonts and
// images only from dist/ and media/ (through asWebviewUri); no inline style, and one inline script
// (RESOURCE_WATCH, under the nonce) that reports a failed load of the page's own files.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { watchPage } from './pageReloads';

/** Reports a failed load of the page's own files to the extension (pageReloads.ts sets the page again). */
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
 * Sets the page, and sets it again (fresh nonce, so a new document) as pageReloads.ts says: when it
 * reports that its files failed to load, or says nothing at all. Dispose with the panel.
 */
export function renderWebview(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): vscode.Disposable {
  const watch = watchPage((what) => {
    webview.html = what.kind === 'page' ? webviewHtml(webview, extensionUri, page) : failedHtml(page, what.url);
  });
  const listener = webview.onDidReceiveMessage((m: unknown) => watch.onMessage(m));
  return new vscode.Disposable(() => {
    watch.dispose();
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
