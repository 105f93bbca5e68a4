// Resolves once every stylesheet the page has asked for has loaded, shadow roots included, and the
// fonts they use: the icons of @vscode-elements put a <link> to codicon.css into each shadow root
// as they first render, and the codicon font loads when a glyph is first laid out. A webview
// closed while such a load is in flight leaves code-server's webview service worker waiting 30 s
// (its resolveTimeout) for an answer that never comes, and the next webview of the window does
// not start until then. Reporting "rendered" only once they are in makes that report true and
// lets whoever closes the view next do so safely.

function pendingLinks(root: ParentNode, out: HTMLLinkElement[]): void {
  for (const link of root.querySelectorAll<HTMLLinkElement>('link[rel="stylesheet"]')) if (link.sheet === null) out.push(link);
  for (const el of root.querySelectorAll('*')) if (el.shadowRoot) pendingLinks(el.shadowRoot, out);
}

/**
 * Waits for the stylesheets still loading, then for the fonts they started (the codicon font loads
 * when a glyph is first laid out); each wait bounded by `capMs`, so a broken one cannot hold it up.
 */
export async function stylesSettled(capMs = 2000): Promise<void> {
  const links: HTMLLinkElement[] = [];
  pendingLinks(document, links);
  await Promise.all(
    links.map(
      (link) =>
        new Promise<void>((resolve) => {
          const done = (): void => resolve();
          link.addEventListener('load', done, { once: true });
          link.addEventListener('error', done, { once: true });
          setTimeout(done, capMs);
        }),
    ),
  );
  await Promise.race([document.fonts.ready, new Promise((resolve) => setTimeout(resolve, capMs))]);
}
