// The typed side of `acquireVsCodeApi()` for the dashboard: messages follow ../protocol.ts;
// the webview state is what a reloaded window restores the panel from (the serializer reads it).
import type { DashboardData, DashboardMode, FromDashboard, ReconstructOptions } from '../protocol';

export interface DashboardState {
  path?: string;
  mode?: DashboardMode;
  data?: DashboardData;
  compare?: DashboardData;
  form?: ReconstructOptions;
  threshold?: number;
  spectraBank?: string;
}

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post(message: FromDashboard): void {
  api.postMessage(message);
}

export function loadState(): DashboardState {
  const s = api.getState();
  return typeof s === 'object' && s !== null ? (s as DashboardState) : {};
}

export function saveState(patch: DashboardState): void {
  api.setState({ ...loadState(), ...patch });
}
