// A dashboard theme for building chart options outside a webview (colours are placeholders: the
// tests check the numbers and the arrangement, not the look).
import type { DashboardTheme } from '../../../src/webview/shared/theme';

export const TEST_THEME = {
  palette: ['#1', '#2'],
  foreground: '#f',
  muted: '#m',
  grid: '#g',
  background: '#b',
  highContrast: false,
} as unknown as DashboardTheme;
