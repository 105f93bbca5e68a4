// The typed side of `acquireVsCodeApi()` (callable once per webview): outgoing messages follow
// ../protocol.ts; the state is what VS Code keeps across reloads and hands back to the page.

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** Where the page shell's inline script (src/extension/webviewHtml.ts) keeps the API when it took it first. */
const shared = globalThis as { mimicryVsCodeApi?: VsCodeApi };

export interface WebviewApi<Out, State extends object> {
  post(message: Out): void;
  loadState(): State;
  /** Merges `patch` into the kept state. */
  saveState(patch: State): void;
}

export function acquireWebviewApi<Out, State extends object>(): WebviewApi<Out, State> {
  const api = (shared.mimicryVsCodeApi ??= acquireVsCodeApi());
  const loadState = (): State => {
    const s = api.getState();
    return (typeof s === 'object' && s !== null ? s : {}) as State;
  };
  return {
    post: (message) => api.postMessage(message),
    loadState,
    saveState: (patch) => api.setState({ ...loadState(), ...patch }),
  };
}
