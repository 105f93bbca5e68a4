// Inner products of a bank's layer updates (and of the base's weights with them), in float64:
// pairs of LoRA updates from their factors alone (r x r products), anything dense streamed in row
// blocks so that no more than a few MiB of any bank is held at once (docs/RECAST.md section 6).
import { gram } from '../recast/linalg';
import { gramOfMatrix } from '../stats/gram';
import { factorRows, type DenseUpdate, type LayerUpdate } from './updates';

/** Column k of a row-major n x r matrix. */
function column(m: Float64Array, n: number, r: number, k: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = m[i * r + k];
  return out;
}

/**
 * The R x R Gram of R equal-length columns: the project's blocked (SIMD where available) Gram of the
 * tall matrix they form when it is tall, else plain dot products (the blocked Gram gives only the
 * smaller side).
 */
function stackedGram(cols: readonly Float64Array[]): Float64Array {
  const R = cols.length;
  const n = cols[0].length;
  if (n > R) {
    const tall = new Float64Array(n * R);
    for (let c = 0; c < R; c++) {
      const col = cols[c];
      for (let i = 0; i < n; i++) tall[i * R + c] = col[i];
    }
    const result = gramOfMatrix(tall, n, R);
    if (!result.nonFinite && !result.overflow) return result.gram;
  }
  return gram(cols);
}

/**
 * The factor-factor entries of G, from <U_a V_a^T, U_b V_b^T>_F = sum_xy (U_a^T U_b)_xy (V_a^T V_b)_xy:
 * every factor column stacked, U^T U and V^T V over all items at once (long contiguous dot products).
 */
function factorGram(items: readonly LayerUpdate[], g: Float64Array, L: number): void {
  const owners: number[] = [];
  const uCols: Float64Array[] = [];
  const vCols: Float64Array[] = [];
  for (const [a, it] of items.entries()) {
    if (it.kind !== 'factors') continue;
    for (let k = 0; k < it.rank; k++) {
      owners.push(a);
      uCols.push(column(it.u, it.rows, it.rank, k));
      vCols.push(column(it.v, it.cols, it.rank, k));
    }
  }
  const R = owners.length;
  if (R === 0) return;
  const uu = stackedGram(uCols);
  const vv = stackedGram(vCols);
  for (let x = 0; x < R; x++) {
    const a = owners[x];
    for (let y = 0; y < R; y++) g[a * L + owners[y]] += uu[x * R + y] * vv[x * R + y];
  }
}

/** Elements held at once (over all items of a bank) while a dense update is streamed. */
const STREAM_ELEMENTS = 1 << 22;

/** Every item's rows [start, end) in float64, block after block (factor updates formed a block at a time). */
async function* rowBlocks(items: readonly LayerUpdate[], signal?: AbortSignal): AsyncGenerator<Float64Array[]> {
  const { rows, cols } = items[0];
  const step = Math.max(1, Math.floor(STREAM_ELEMENTS / (items.length * Math.max(1, cols))));
  for (let start = 0; start < rows; start += step) {
    const end = Math.min(rows, start + step);
    const blocks: Float64Array[] = [];
    for (const it of items) blocks.push(it.kind === 'factors' ? factorRows(it, start, end) : await it.rowBlock(start, end, signal));
    yield blocks;
  }
}

function dotOf(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** G[a, b] = <dW_a, dW_b> for updates of one shape: factor pairs from the factors, the rest streamed in row blocks. */
export async function updateGram(items: readonly LayerUpdate[], signal?: AbortSignal): Promise<Float64Array> {
  const L = items.length;
  const g = new Float64Array(L * L);
  factorGram(items, g, L);
  signal?.throwIfAborted();
  const dense = items.some((it) => it.kind !== 'factors');
  if (!dense || L === 0) return g;
  for await (const blocks of rowBlocks(items, signal)) {
    for (let a = 0; a < L; a++) {
      for (let b = a; b < L; b++) {
        if (items[a].kind === 'factors' && items[b].kind === 'factors') continue;
        const s = dotOf(blocks[a], blocks[b]);
        g[a * L + b] += s;
        if (a !== b) g[b * L + a] += s;
      }
    }
  }
  return g;
}

/**
 * The base weights' own Gram bb[j, k] = <W_j, W_k> (B x B) and their inner products with the
 * updates bd[k, l] = <W_k, dW_l> (B x L), every matrix of one shape, streamed in row blocks.
 */
export async function baseCrossGram(
  base: readonly DenseUpdate[],
  items: readonly LayerUpdate[],
  signal?: AbortSignal,
): Promise<{ bb: Float64Array; bd: Float64Array }> {
  const B = base.length;
  const L = items.length;
  const bb = new Float64Array(B * B);
  const bd = new Float64Array(B * L);
  if (B === 0) return { bb, bd };
  for await (const blocks of rowBlocks([...base, ...items], signal)) {
    for (let j = 0; j < B; j++) {
      for (let k = j; k < B; k++) {
        const s = dotOf(blocks[j], blocks[k]);
        bb[j * B + k] += s;
        if (j !== k) bb[k * B + j] += s;
      }
      for (let l = 0; l < L; l++) bd[j * L + l] += dotOf(blocks[j], blocks[B + l]);
    }
  }
  return { bb, bd };
}
