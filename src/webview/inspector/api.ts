// The typed side of `acquireVsCodeApi()` for the inspector: messages follow ../protocol.ts; the
// state (selection, filter, tab) survives reloads.
import type { WebviewToExtension } from '../protocol';
import { acquireWebviewApi } from '../shared/vscodeApi';

export interface PersistedState {
  selected?: string;
  query?: string;
  tab?: number;
}

export const { post, loadState, saveState } = acquireWebviewApi<WebviewToExtension, PersistedState>();
