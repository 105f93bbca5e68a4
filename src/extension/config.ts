// Reads the `mimicry.inspector.*` settings, clamped to sane values.
import * as vscode from 'vscode';
import { DEFAULT_SPECTRUM_MAX_SIDE } from '../mimicry/stats/spectrum';
import { DEFAULT_BINS } from '../mimicry/stats/tensorStats';
import { isPositiveInt } from '../mimicry/positiveInt';

export interface InspectorSettings {
  /** Statistics for every tensor start by themselves when the checkpoint is at most this large. */
  readonly autoStatsMaxBytes: number;
  readonly histogramBins: number;
  /** The spectrum size limit, largest min(rows, cols); the setting is mimicry.inspector.spectrumMaxDim. */
  readonly spectrumMaxSide: number;
  /** Threads of "Compute all statistics", the inspector's worker included; 0: as many as pay on this machine. */
  readonly statsThreads: number;
}

const DEFAULTS: InspectorSettings = {
  autoStatsMaxBytes: 256 * 1024 * 1024,
  histogramBins: DEFAULT_BINS,
  spectrumMaxSide: DEFAULT_SPECTRUM_MAX_SIDE,
  statsThreads: 0,
};

/** A positive integer setting, at most `max`; anything else (0, a fraction, a string) reads as the default. */
function positiveIntSetting(value: unknown, fallback: number, max: number): number {
  return isPositiveInt(value) ? Math.min(value, max) : fallback;
}

export function inspectorSettings(scope?: vscode.Uri): InspectorSettings {
  const c = vscode.workspace.getConfiguration('mimicry.inspector', scope);
  const autoStatsMaxBytes = c.get('autoStatsMaxBytes');
  return {
    // A byte count compared with the checkpoint's size; 0 turns automatic statistics off.
    autoStatsMaxBytes: typeof autoStatsMaxBytes === 'number' && autoStatsMaxBytes >= 0 ? autoStatsMaxBytes : DEFAULTS.autoStatsMaxBytes,
    histogramBins: positiveIntSetting(c.get('histogramBins'), DEFAULTS.histogramBins, 1024),
    spectrumMaxSide: positiveIntSetting(c.get('spectrumMaxDim'), DEFAULTS.spectrumMaxSide, 8192),
    // 0 (and anything that is not a positive integer) reads as "as many as pay".
    statsThreads: positiveIntSetting(c.get('statsThreads'), DEFAULTS.statsThreads, 16),
  };
}

/**
 * `mimicry.adapters.useFactors`: a LoRA adapter is reconstructed, and its spectra drawn, as its
 * stored factors rather than its layer updates scale * (B @ A) (docs/RECAST.md section 6.7).
 */
export function adapterFactors(scope?: vscode.Uri): boolean {
  return vscode.workspace.getConfiguration('mimicry.adapters', scope).get('useFactors') === true;
}
