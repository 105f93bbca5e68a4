// The metrics of docs/RECAST.md section 4, each exactly as defined there. Conventions this project
// adds where the definition leaves a case open are stated next to the function.
import { combineRows } from '../linalg/combine';
import { cosine } from './linalg';
import { entropyFloat64, type Entropy } from './entropy';
import { type Random } from './random';

export interface LayerFidelity {
  /** cos(vec(W*), vec(W)); 1 when both are zero. */
  readonly cosine: number;
  /** ||W - W*||_F / ||W*||_F; for a zero W* the absolute error ||W||_F. */
  readonly relError: number;
}

export function layerFidelity(original: ArrayLike<number>, rebuilt: ArrayLike<number>): LayerFidelity {
  let dd = 0,
    oo = 0;
  for (let i = 0; i < original.length; i++) {
    const e = rebuilt[i] - original[i];
    dd += e * e;
    oo += original[i] * original[i];
  }
  return { cosine: cosine(original, rebuilt), relError: oo > 0 ? Math.sqrt(dd / oo) : Math.sqrt(dd) };
}

export interface ComposedFidelity extends LayerFidelity {
  /** `squaredError` as passed in plus sum (W - W*)^2 over this layer, added element by element. */
  readonly squaredError: number;
}

/**
 * compose() (docs/FORMAT.md's rule) into `rebuilt` and layerFidelity() of the result in one pass
 * over the values (a block at a time through the combine kernel where it loads): the same operations
 * in the same order, so the same bits as calling both, at a third of the memory traffic. `squaredError` continues a running sum (the bank's loss). With
 * `rebuilt` null the rebuilt values are only measured, never held (nothing else needs them).
 */
export function composeWithFidelity(
  templates: Float32Array,
  n: number,
  coefficients: Float32Array,
  original: Float32Array,
  rebuilt: Float32Array | null,
  squaredError = 0,
): ComposedFidelity {
  const d = original.length;
  const K = coefficients.length / n;
  if (templates.length !== n * d || (rebuilt && rebuilt.length !== d) || !Number.isInteger(K) || K < 1)
    throw new Error(`composeWithFidelity: ${templates.length} template values, ${coefficients.length} coefficients, n = ${n}, d = ${d}`);
  const mean = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += coefficients[k * n + t];
    mean[t] = s / K;
  }
  // se, dd, ab, aa, bb: in a typed array, so the block callback below keeps them unboxed.
  const sums = Float64Array.of(squaredError, 0, 0, 0, 0);
  if (n === 2) composeTwoAndMeasure(templates, d, mean[0], mean[1], original, rebuilt, sums);
  else {
    // The rule's values a block at a time through the SIMD kernel (the same bits), measured as they come.
    const rows = Array.from({ length: n }, (_, t) => templates.subarray(t * d, (t + 1) * d));
    combineRows(
      rows,
      (_, t) => mean[t],
      1,
      (_, values, at) => {
        if (rebuilt) rebuilt.set(values, at);
        measureBlock(values, original, at, sums);
      },
    );
  }
  const [se, dd, ab, aa, bb] = sums;
  // layerFidelity's and cosine()'s conventions, from the same sums.
  const cos = aa === 0 && bb === 0 ? 1 : aa === 0 || bb === 0 ? 0 : Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
  return { cosine: cos, relError: aa > 0 ? Math.sqrt(dd / aa) : Math.sqrt(dd), squaredError: se };
}

/**
 * composeWithFidelity for two templates in one JavaScript loop: each rebuilt value as combineRows
 * forms it (a float64 sum from 0, template by template, rounded once: the same bits as its kernel)
 * and measured as measureBlock does, with no copy into and out of the kernels' memory, which cost
 * more than the arithmetic.
 */
function composeTwoAndMeasure(
  templates: Float32Array,
  d: number,
  m0: number,
  m1: number,
  original: Float32Array,
  rebuilt: Float32Array | null,
  sums: Float64Array,
): void {
  let se = sums[0];
  let dd = sums[1];
  let ab = sums[2];
  let aa = sums[3];
  let bb = sums[4];
  const t1 = templates.subarray(d);
  // Two copies of the loop: a test for `rebuilt` inside it cost as much as the loop itself, and
  // rebuilding a block and then handing it to measureBlock ran at half this speed (measured).
  if (rebuilt)
    for (let i = 0; i < d; i++) {
      const w = Math.fround(0 + m0 * templates[i] + m1 * t1[i]);
      rebuilt[i] = w;
      const o = original[i];
      const e = w - o;
      const e2 = e * e;
      se += e2;
      dd += e2;
      ab += o * w;
      aa += o * o;
      bb += w * w;
    }
  else
    for (let i = 0; i < d; i++) {
      const w = Math.fround(0 + m0 * templates[i] + m1 * t1[i]);
      const o = original[i];
      const e = w - o;
      const e2 = e * e;
      se += e2;
      dd += e2;
      ab += o * w;
      aa += o * o;
      bb += w * w;
    }
  sums[0] = se;
  sums[1] = dd;
  sums[2] = ab;
  sums[3] = aa;
  sums[4] = bb;
}

/** Adds one block of rebuilt values (original's elements from `at`) to sums = [se, dd, ab, aa, bb], element by element. */
function measureBlock(values: Float32Array, original: Float32Array, at: number, sums: Float64Array): void {
  let se = sums[0];
  let dd = sums[1];
  let ab = sums[2];
  let aa = sums[3];
  let bb = sums[4];
  for (let i = 0; i < values.length; i++) {
    const w = values[i];
    const o = original[at + i];
    const e = w - o;
    se += e * e;
    dd += e * e;
    ab += o * w;
    aa += o * o;
    bb += w * w;
  }
  sums[0] = se;
  sums[1] = dd;
  sums[2] = ab;
  sums[3] = aa;
  sums[4] = bb;
}

/**
 * How a 2-D view of a weight maps inputs: PyTorch Linear/conv are [out, in...] ('out-in'); GPT-2's
 * Conv1D (c_attn, c_proj, c_fc) and mlx LoRA matrices are stored [in, out] ('in-out').
 */
export type InputLayout = 'out-in' | 'in-out';

export function inputLayout(name: string): InputLayout {
  const parts = name.split('.');
  const last = parts[parts.length - 1];
  if (last === 'lora_a' || last === 'lora_b') return 'in-out';
  const mod = last === 'weight' ? parts[parts.length - 2] : last;
  return mod === 'c_attn' || mod === 'c_proj' || mod === 'c_fc' ? 'in-out' : 'out-in';
}

/**
 * Feature fidelity with random probes (no data: labelled as probes wherever shown):
 * mean over j of cos(W* x_j, W x_j), x_j ~ N(0, I) of the layer's input size.
 */
export function probeFidelity(
  original: ArrayLike<number>,
  rebuilt: ArrayLike<number>,
  shape: readonly number[],
  layout: InputLayout,
  probes: number,
  rng: Random,
): number {
  const rows = shape[0];
  const cols = original.length / rows;
  const inSize = layout === 'out-in' ? cols : rows;
  const outSize = layout === 'out-in' ? rows : cols;
  const y0 = new Float64Array(outSize);
  const y1 = new Float64Array(outSize);
  let total = 0;
  for (let j = 0; j < probes; j++) {
    const x = new Float64Array(inSize);
    for (let i = 0; i < inSize; i++) x[i] = rng.normal();
    y0.fill(0);
    y1.fill(0);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      if (layout === 'out-in') {
        let s0 = 0,
          s1 = 0;
        for (let c = 0; c < cols; c++) {
          s0 += original[o + c] * x[c];
          s1 += rebuilt[o + c] * x[c];
        }
        y0[r] = s0;
        y1[r] = s1;
      } else {
        const xr = x[r];
        for (let c = 0; c < cols; c++) {
          y0[c] += original[o + c] * xr;
          y1[c] += rebuilt[o + c] * xr;
        }
      }
    }
    total += cosine(y0, y1);
  }
  return probes > 0 ? total / probes : 1;
}

export interface Diversity {
  /** Mean over pairs i < j of ||T_i - T_j||_F; 0 for a single template. */
  readonly diversity: number;
  /** diversity / mean_t ||T_t||_F (independent of the scale convention); 0 when all are zero. */
  readonly relative: number;
}

/** Elements per block of templateDiversity: every sum over one block while the templates' block is in cache. */
const DIVERSITY_BLOCK = 8192;

export function templateDiversity(templates: Float32Array, n: number): Diversity {
  const d = templates.length / n;
  // One running sum per norm and per pair, each in element order (as separate loops would sum).
  const norms = new Float64Array(n);
  const dist = new Float64Array(n * n);
  if (n === 2) twoTemplateSums(templates, d, norms, dist);
  else
    for (let k0 = 0; k0 < d; k0 += DIVERSITY_BLOCK) {
      const k1 = Math.min(d, k0 + DIVERSITY_BLOCK);
      for (let i = 0; i < n; i++) {
        const oi = i * d;
        let s = norms[i];
        for (let k = k0; k < k1; k++) s += templates[oi + k] ** 2;
        norms[i] = s;
        for (let j = i + 1; j < n; j++) {
          const oj = j * d;
          let e = dist[i * n + j];
          for (let k = k0; k < k1; k++) e += (templates[oi + k] - templates[oj + k]) ** 2;
          dist[i * n + j] = e;
        }
      }
    }
  let pairs = 0,
    sum = 0,
    normSum = 0;
  for (let i = 0; i < n; i++) {
    normSum += Math.sqrt(norms[i]);
    for (let j = i + 1; j < n; j++) {
      sum += Math.sqrt(dist[i * n + j]);
      pairs++;
    }
  }
  const diversity = pairs > 0 ? sum / pairs : 0;
  const meanNorm = normSum / n;
  return { diversity, relative: meanNorm > 0 ? diversity / meanNorm : 0 };
}

/**
 * templateDiversity's three sums for two templates in one pass: the same running sums in the same
 * element order (the same bits), but side by side, so no sum waits on its own previous addition
 * alone (a float64 add's latency, not the loads, is what bounds each loop on its own).
 */
function twoTemplateSums(templates: Float32Array, d: number, norms: Float64Array, dist: Float64Array): void {
  let s0 = 0,
    s1 = 0,
    e = 0;
  for (let k = 0; k < d; k++) {
    const a = templates[k];
    const b = templates[d + k];
    s0 += a ** 2;
    e += (a - b) ** 2;
    s1 += b ** 2;
  }
  norms[0] = s0;
  norms[1] = s1;
  dist[1] = e;
}

export type { Entropy } from './entropy';

/**
 * Spectral entropy of one template reshaped to out x (everything else), on the float64 JS route.
 * Singular values come from the eigenvalues of the smaller Gram (no eigenvectors); a template
 * holding NaN or Inf has entropy NaN rather than stopping the whole run over a metric.
 * Whole banks go through bankEntropy (entropy.ts), which puts the Gram products on TensorFlow.js.
 */
export function templateEntropy(template: ArrayLike<number>, shape: readonly number[]): Entropy {
  const rows = shape[0];
  return entropyFloat64(template, rows, template.length / rows);
}

export interface CoefficientSimilarity {
  /** The distinct blocks of the group, in order: rows and columns of the matrix. */
  readonly blocks: readonly number[];
  /** cos(a_l, a_m), a_l = every coefficient set of every member of block l, concatenated. */
  readonly matrix: readonly (readonly number[])[];
}

export function coefficientSimilarity(coefficients: readonly Float32Array[], memberBlocks: readonly number[]): CoefficientSimilarity {
  const blocks = [...new Set(memberBlocks)];
  const vectors = blocks.map((b) => {
    const parts = coefficients.filter((_, i) => memberBlocks[i] === b);
    const v = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      v.set(p, at);
      at += p.length;
    }
    return v;
  });
  const matrix = vectors.map((a) => vectors.map((b) => cosine(a, b)));
  return { blocks, matrix };
}
