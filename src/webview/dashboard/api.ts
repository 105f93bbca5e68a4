// The typed side of `acquireVsCodeApi()` for the dashboard: messages follow ../protocol.ts;
// the webview state is what a reloaded window restores the panel from (the serializer reads it).
import type { DashboardData, DashboardMode, FromDashboard, ReconstructOptions } from '../protocol';
import { acquireWebviewApi } from '../shared/vscodeApi';

export interface DashboardState {
  path?: string;
  mode?: DashboardMode;
  data?: DashboardData;
  compare?: DashboardData;
  form?: ReconstructOptions;
  threshold?: number;
  spectraBank?: string;
}

export const { post, loadState, saveState } = acquireWebviewApi<FromDashboard, DashboardState>();
