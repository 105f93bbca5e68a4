// Reads the `mimicry.inspector.*` settings, clamped to sane values.
import * as vscode from 'vscode';

export interface InspectorSettings {
  /** Statistics for every tensor start by themselves when the checkpoint is at most this large. */
  readonly autoStatsMaxBytes: number;
  readonly histogramBins: number;
  readonly spectrumMaxDim: number;
}

const DEFAULTS: InspectorSettings = { autoStatsMaxBytes: 256 * 1024 * 1024, histogramBins: 64, spectrumMaxDim: 2048 };

function positiveInt(value: unknown, fallback: number, max: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.min(Math.floor(value), max) : fallback;
}

export function inspectorSettings(scope?: vscode.Uri): InspectorSettings {
  const c = vscode.workspace.getConfiguration('mimicry.inspector', scope);
  return {
    autoStatsMaxBytes: positiveInt(c.get('autoStatsMaxBytes'), DEFAULTS.autoStatsMaxBytes, Number.MAX_SAFE_INTEGER),
    histogramBins: Math.max(1, positiveInt(c.get('histogramBins'), DEFAULTS.histogramBins, 1024)),
    spectrumMaxDim: Math.max(1, positiveInt(c.get('spectrumMaxDim'), DEFAULTS.spectrumMaxDim, 8192)),
  };
}
