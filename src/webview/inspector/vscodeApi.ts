// The typed side of `acquireVsCodeApi()`: messages follow ../protocol.ts; state survives reloads.
import type { WebviewToExtension } from '../protocol';
import { acquireWebviewApi } from '../shared/vscodeApi';

export interface PersistedState {
  selected?: string;
  query?: string;
  tab?: number;
}

export const { post, loadState, saveState } = acquireWebviewApi<WebviewToExtension, PersistedState>();
