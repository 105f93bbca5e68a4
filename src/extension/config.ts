// Reads the `mimicry.inspector.*` settings, clamped to sane values.
import * as vscode from 'vscode';
import { DEFAULT_SPECTRUM_MAX_SIDE } from '../mimicry/stats/spectrum';
import { DEFAULT_BINS } from '../mimicry/stats/tensorStats';

export interface InspectorSettings {
  /** Statistics for every tensor start by themselves when the checkpoint is at most this large. */
  readonly autoStatsMaxBytes: number;
  readonly histogramBins: number;
  /** The spectrum size limit, largest min(rows, cols); the setting is mimicry.inspector.spectrumMaxDim. */
  readonly spectrumMaxSide: number;
}

const DEFAULTS: InspectorSettings = { autoStatsMaxBytes: 256 * 1024 * 1024, histogramBins: DEFAULT_BINS, spectrumMaxSide: DEFAULT_SPECTRUM_MAX_SIDE };

function positiveInt(value: unknown, fallback: number, max: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.min(Math.floor(value), max) : fallback;
}

export function inspectorSettings(scope?: vscode.Uri): InspectorSettings {
  const c = vscode.workspace.getConfiguration('mimicry.inspector', scope);
  return {
    autoStatsMaxBytes: positiveInt(c.get('autoStatsMaxBytes'), DEFAULTS.autoStatsMaxBytes, Number.MAX_SAFE_INTEGER),
    histogramBins: Math.max(1, positiveInt(c.get('histogramBins'), DEFAULTS.histogramBins, 1024)),
    spectrumMaxSide: Math.max(1, positiveInt(c.get('spectrumMaxDim'), DEFAULTS.spectrumMaxSide, 8192)),
  };
}
