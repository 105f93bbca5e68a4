// Dashboard colours: the inspector's chart theme plus the VS Code chart palette (--vscode-charts-*),
// read again whenever the user switches theme.
import { readTheme, type ChartTheme } from '../inspector/theme';

export interface DashboardTheme extends ChartTheme {
  /** Series colours, in order. */
  readonly palette: readonly string[];
  readonly red: string;
  readonly green: string;
  readonly background: string;
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v.length > 0 ? v : fallback;
}

export function readDashboardTheme(): DashboardTheme {
  const base = readTheme();
  const palette = [
    cssVar('--vscode-charts-blue', '#3794ff'),
    cssVar('--vscode-charts-orange', '#d18616'),
    cssVar('--vscode-charts-green', '#89d185'),
    cssVar('--vscode-charts-purple', '#b180d7'),
    cssVar('--vscode-charts-yellow', '#cca700'),
    cssVar('--vscode-charts-red', '#f14c4c'),
  ];
  return {
    ...base,
    palette,
    red: palette[5],
    green: palette[2],
    background: cssVar('--vscode-editor-background', document.body.classList.contains('vscode-light') ? '#ffffff' : '#1e1e1e'),
  };
}
