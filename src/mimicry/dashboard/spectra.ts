// Singular-value spectra of a bank's original members against its templates (or, for a recast
// file, the rebuilt members): the same out x (everything else) view as the inspector's spectra.
import { isSpectrumSkipped, spectrumFromMatrix } from '../stats/spectrum';
import type { SpectrumKind, SpectrumLine } from './types';

export interface SpectrumInput {
  readonly label: string;
  readonly kind: SpectrumKind;
  readonly values: Float32Array;
}

/** Spectra of several same-shaped matrices; skipped ones are named in `skipped`. */
export function spectrumLines(
  inputs: readonly SpectrumInput[],
  shape: readonly number[],
  spectrumMaxSide: number,
  /** Called after each input with the number done (progress inside the spectra phase; may throw to stop). */
  onDone?: (done: number) => void,
): { lines: SpectrumLine[]; skipped?: string } {
  const rows = shape[0];
  const cols = shape.slice(1).reduce((a, b) => a * b, 1);
  const lines: SpectrumLine[] = [];
  let skipped: string | undefined;
  for (const [i, input] of inputs.entries()) {
    const s = spectrumFromMatrix(input.values, rows, cols, { maxSide: spectrumMaxSide });
    if (isSpectrumSkipped(s)) skipped = s.skipped;
    else lines.push({ label: input.label, kind: input.kind, values: s.singularValues });
    onDone?.(i + 1);
  }
  return skipped === undefined ? { lines } : { lines, skipped };
}

/** Slices template t of an [n, ...shape] bank. */
export function templateAt(templates: Float32Array, n: number, t: number): Float32Array {
  const d = templates.length / n;
  return templates.subarray(t * d, (t + 1) * d);
}
