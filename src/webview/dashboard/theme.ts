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

/** `a` moved `w` of the way to `b`; both #rgb/#rrggbb (anything else returns `a`). */
function blend(a: string, b: string, w: number): string {
  const ca = hexRgb(a);
  const cb = hexRgb(b);
  if (!ca || !cb) return a;
  return `#${ca.map((v, i) => Math.round(v + (cb[i] - v) * w).toString(16).padStart(2, '0')).join('')}`;
}

function hexRgb(c: string): [number, number, number] | null {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c.trim());
  if (!m) return null;
  const h = m[1].length === 3 ? [...m[1]].map((x) => x + x).join('') : m[1];
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];
}

export function readDashboardTheme(): DashboardTheme {
  const base = readTheme();
  const themed = [
    cssVar('--vscode-charts-blue', '#3794ff'),
    cssVar('--vscode-charts-orange', '#d18616'),
    cssVar('--vscode-charts-green', '#89d185'),
    cssVar('--vscode-charts-purple', '#b180d7'),
    cssVar('--vscode-charts-yellow', '#cca700'),
    cssVar('--vscode-charts-red', '#f14c4c'),
  ];
  // Six theme colours are too few for e.g. 7+ module roles: add each one blended halfway towards
  // the text colour, which stays readable on the theme's background.
  const palette = [...themed, ...themed.map((c) => blend(c, base.foreground, 0.5))];
  return {
    ...base,
    palette,
    red: palette[5],
    green: palette[2],
    background: cssVar('--vscode-editor-background', document.body.classList.contains('vscode-light') ? '#ffffff' : '#1e1e1e'),
  };
}
