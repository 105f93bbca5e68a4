// The typed side of `acquireVsCodeApi()` for the dashboard: messages follow ../protocol.ts;
// the webview state is what a reloaded window restores the panel from (the serializer reads it).
import type { DashboardState, FromDashboard } from '../protocol';
import { acquireWebviewApi } from '../shared/vscodeApi';

export const { post, loadState, saveState } = acquireWebviewApi<FromDashboard, DashboardState>();
