// docs/FORMAT.md's reconstruction rule, shared by the metrics, the dense export and the rebuild so
// that all three produce the same bits.
import { combineRows } from '../linalg/combine';
import { isPositiveInt } from '../positiveInt';

/**
 * W = mean over k of (sum over t of C[k, t] * T[t]), accumulated in float64 and rounded once to
 * float32. `templates` is [n, d] row-major, `coefficients` [K, n].
 */
export function compose(templates: Float32Array, n: number, coefficients: Float32Array, out?: Float32Array): Float32Array {
  const d = templates.length / n;
  if (!Number.isInteger(d)) throw new Error(`compose: ${templates.length} template values do not split into ${n} templates`);
  const K = coefficients.length / n;
  if (!isPositiveInt(K)) throw new Error(`compose: ${coefficients.length} coefficients do not split into sets of ${n}`);
  const mean = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += coefficients[k * n + t];
    mean[t] = s / K;
  }
  const w = out ?? new Float32Array(d);
  if (w.length !== d) throw new Error('compose: output has the wrong size');
  const rows = Array.from({ length: n }, (_, t) => templates.subarray(t * d, (t + 1) * d));
  combineRows(
    rows,
    (_, t) => mean[t],
    1,
    (_, values, at) => w.set(values, at),
  );
  return w;
}
