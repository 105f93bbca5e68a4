// The typed side of `acquireVsCodeApi()`: messages follow ../protocol.ts; state survives reloads.
import type { WebviewToExtension } from '../protocol';

export interface PersistedState {
  selected?: string;
  query?: string;
  tab?: number;
}

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post(message: WebviewToExtension): void {
  api.postMessage(message);
}

export function loadState(): PersistedState {
  const s = api.getState();
  return typeof s === 'object' && s !== null ? (s as PersistedState) : {};
}

export function saveState(patch: PersistedState): void {
  api.setState({ ...loadState(), ...patch });
}
