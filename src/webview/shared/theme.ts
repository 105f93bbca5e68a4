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
 * colour (one per dtype present); cycles only past eighteen items. Ordered so that the first few lie
 * far apart (spreadOut): a theme's own colours can be near twins (Light Modern's orange and yellow).
 */
export function distinctPalette(themed: readonly string[], foreground: string, background: string): string[] {
  return spreadOut([...themed, ...themed.map((c) => mix(c, foreground, 0.5)), ...themed.map((c) => mix(c, background, 0.45))]);
}

/**
 * The first colour, then each time the one farthest (CIE76 distance in Lab) from all taken so far:
 * any first k are as far apart as this greedy order makes them. Colours that are not hex keep their order.
 */
function spreadOut(colours: readonly string[]): string[] {
  const labs = colours.map(hexLab);
  if (labs.some((l) => l === null)) return [...colours];
  const points = labs as [number, number, number][];
  const order = [0];
  const nearest = points.map((p) => distance(p, points[0]));
  while (order.length < colours.length) {
    let best = -1;
    for (let i = 0; i < points.length; i++) if (!order.includes(i) && (best < 0 || nearest[i] > nearest[best])) best = i;
    order.push(best);
    for (let i = 0; i < points.length; i++) nearest[i] = Math.min(nearest[i], distance(points[i], points[best]));
  }
  return order.map((i) => colours[i]);
}

function distance(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** CIE L*a*b* (D65) of a #rgb/#rrggbb colour: distances there follow what eyes tell apart. */
export function hexLab(c: string): [number, number, number] | null {
  const rgb = hexRgb(c);
  if (!rgb) return null;
  const [r, g, b] = rgb.map((v) => {
    const x = v / 255;
    return x > 0.04045 ? ((x + 0.055) / 1.055) ** 2.4 : x / 12.92;
  });
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 / 116) * t + 16 / 116);
  const fx = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047);
  const fy = f(0.2126 * r + 0.7152 * g + 0.0722 * b);
  const fz = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
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
