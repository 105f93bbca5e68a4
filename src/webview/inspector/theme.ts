// Chart colours from the VS Code theme (CSS variables on the webview's root), refreshed when the
// user switches theme (VS Code swaps the body class vscode-light / vscode-dark / vscode-high-contrast).

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

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v.length > 0 ? v : fallback;
}

export function readTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  const body = document.body.classList;
  const highContrast = body.contains('vscode-high-contrast') || body.contains('vscode-high-contrast-light');
  const light = body.contains('vscode-light') || body.contains('vscode-high-contrast-light');
  const foreground = cssVar(style, '--vscode-foreground', light ? '#3b3b3b' : '#cccccc');
  return {
    foreground,
    muted: cssVar(style, '--vscode-descriptionForeground', light ? '#717171' : '#9d9d9d'),
    border: cssVar(style, '--vscode-panel-border', light ? '#e5e5e5' : '#2b2b2b'),
    grid: highContrast ? cssVar(style, '--vscode-contrastBorder', foreground) : cssVar(style, '--vscode-editorWidget-border', light ? '#e5e5e5' : '#454545'),
    primary: cssVar(style, '--vscode-charts-blue', light ? '#1a85ff' : '#3794ff'),
    secondary: cssVar(style, '--vscode-charts-orange', light ? '#d18616' : '#d18616'),
    tooltipBackground: cssVar(style, '--vscode-editorHoverWidget-background', light ? '#f8f8f8' : '#202020'),
    tooltipBorder: cssVar(style, '--vscode-editorHoverWidget-border', light ? '#c8c8c8' : '#454545'),
    fontFamily: cssVar(style, '--vscode-font-family', 'system-ui, sans-serif'),
    monoFamily: cssVar(style, '--vscode-editor-font-family', 'monospace'),
    fontSize: Number.parseFloat(cssVar(style, '--vscode-font-size', '13')) || 13,
    highContrast,
  };
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
