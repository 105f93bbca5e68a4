// Chart colours from the VS Code theme (CSS variables on the webview's root), refreshed when the
// user switches theme (VS Code swaps the body class vscode-light / vscode-dark / vscode-high-contrast).
// The inspector draws with the chart theme; the dashboards add a series palette to it.

export interface ChartTheme {
  readonly foreground: string;
  readonly muted: string;
  readonly border: string;
  readonly grid: string;
  readonly primary: string;
  readonly secondary: string;
  readonly tooltipBackground: string;
  readonly tooltipBorder: string;
  readonly fontFamily: string;
  readonly monoFamily: string;
  readonly fontSize: number;
  readonly highContrast: boolean;
}

export interface DashboardTheme extends ChartTheme {
  /** Series colours, in order. */
  readonly palette: readonly string[];
  readonly red: string;
  readonly green: string;
  readonly background: string;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v.length > 0 ? v : fallback;
}

function isLight(): boolean {
  const body = document.body.classList;
  return body.contains('vscode-light') || body.contains('vscode-high-contrast-light');
}

export function readTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  const body = document.body.classList;
  const highContrast = body.contains('vscode-high-contrast') || body.contains('vscode-high-contrast-light');
  const light = isLight();
  const foreground = cssVar(style, '--vscode-foreground', light ? '#3b3b3b' : '#cccccc');
  return {
    foreground,
    muted: cssVar(style, '--vscode-descriptionForeground', light ? '#717171' : '#9d9d9d'),
    border: cssVar(style, '--vscode-panel-border', light ? '#e5e5e5' : '#2b2b2b'),
    grid: highContrast
      ? cssVar(style, '--vscode-contrastBorder', foreground)
      : cssVar(style, '--vscode-editorWidget-border', light ? '#e5e5e5' : '#454545'),
    primary: cssVar(style, '--vscode-charts-blue', light ? '#1a85ff' : '#3794ff'),
    secondary: cssVar(style, '--vscode-charts-orange', '#d18616'),
    tooltipBackground: cssVar(style, '--vscode-editorHoverWidget-background', light ? '#f8f8f8' : '#202020'),
    tooltipBorder: cssVar(style, '--vscode-editorHoverWidget-border', light ? '#c8c8c8' : '#454545'),
    fontFamily: cssVar(style, '--vscode-font-family', 'system-ui, sans-serif'),
    monoFamily: cssVar(style, '--vscode-editor-font-family', 'monospace'),
    fontSize: Number.parseFloat(cssVar(style, '--vscode-font-size', '13')) || 13,
    highContrast,
  };
}

/** `a` moved `w` of the way to `b`; both #rgb/#rrggbb (anything else returns `a`). */
function blend(a: string, b: string, w: number): string {
  const ca = hexRgb(a);
  const cb = hexRgb(b);
  if (!ca || !cb) return a;
  return `#${ca
    .map((v, i) =>
      Math.round(v + (cb[i] - v) * w)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

function hexRgb(c: string): [number, number, number] | null {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c.trim());
  if (!m) return null;
  const h = m[1].length === 3 ? [...m[1]].map((x) => x + x).join('') : m[1];
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];
}

/** The chart theme plus the VS Code chart palette (--vscode-charts-*) for series. */
export function readDashboardTheme(): DashboardTheme {
  const base = readTheme();
  const style = getComputedStyle(document.documentElement);
  const themed = themedChartColours(base, style);
  // Six theme colours are too few for e.g. 7+ module roles: add each one blended halfway towards
  // the text colour, which stays readable on the theme's background.
  const palette = [...themed, ...themed.map((c) => blend(c, base.foreground, 0.5))];
  return {
    ...base,
    palette,
    red: palette[5],
    green: palette[2],
    background: cssVar(style, '--vscode-editor-background', isLight() ? '#ffffff' : '#1e1e1e'),
  };
}

/** `a` moved `w` of the way to `b`: exact for hex colours, `color-mix()` (for the DOM) for anything else. */
function mix(a: string, b: string, w: number): string {
  if (hexRgb(a) && hexRgb(b)) return blend(a, b, w);
  return `color-mix(in srgb, ${a} ${Math.round((1 - w) * 100)}%, ${b})`;
}

/**
 * Eighteen colours from the theme's six chart colours: each as it is, then moved halfway towards the
 * text colour, then part of the way towards the background. Used where every item needs its own
 * colour (one per dtype present); cycles only past eighteen items.
 */
export function distinctPalette(themed: readonly string[], foreground: string, background: string): string[] {
  return [...themed, ...themed.map((c) => mix(c, foreground, 0.5)), ...themed.map((c) => mix(c, background, 0.45))];
}

/** The theme's chart colours (--vscode-charts-*), in the order series take them. */
function themedChartColours(base: ChartTheme, style: CSSStyleDeclaration): string[] {
  return [
    base.primary,
    base.secondary,
    cssVar(style, '--vscode-charts-green', '#89d185'),
    cssVar(style, '--vscode-charts-purple', '#b180d7'),
    cssVar(style, '--vscode-charts-yellow', '#cca700'),
    cssVar(style, '--vscode-charts-red', '#f14c4c'),
  ];
}

/** distinctPalette of the current theme. */
export function readDistinctPalette(): string[] {
  const base = readTheme();
  const style = getComputedStyle(document.documentElement);
  const background = cssVar(style, '--vscode-editor-background', isLight() ? '#ffffff' : '#1e1e1e');
  return distinctPalette(themedChartColours(base, style), base.foreground, background);
}

/** Calls `fn` whenever the theme changes. */
export function onThemeChange(fn: () => void): void {
  let last = document.body.className;
  new MutationObserver(() => {
    if (document.body.className === last) return;
    last = document.body.className;
    fn();
  }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
