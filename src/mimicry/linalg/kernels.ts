// The WebAssembly SIMD kernels of kernels.wat (float64, f64x2; syrk32 float32, f32x4), loaded once per thread. Where
// WebAssembly SIMD is missing the loader answers null and callers keep their JavaScript loops.
// Memory: one instance's linear memory, laid out afresh by each (synchronous) call through
// `arena`; nothing is kept in it between calls, so growing it never strands a caller's view.
//
// Two binaries of the one kernels.wat (scripts/build-kernels.mjs): 'fused', whose Gram and
// tridiagonalization multiply-adds are relaxed SIMD (one FMA instruction each on x86 and ARM: the
// entropy's two hot loops run ~1.3x faster), and 'plain', the same text with each written as a
// multiply and an add, for runtimes without relaxed SIMD. Node 20's V8 (11.3) has relaxed SIMD
// complete behind a flag (on by default from V8 11.4, so in VS Code's own runtime): the loader turns
// the flag on when the fused binary does not compile. Either way the results are within the
// kernels' documented rounding of the JavaScript loops; the threads of one process all load the same one.
import { setFlagsFromString } from 'node:v8';
import { instantiateEmbedded } from './embeddedWasm';
import { KERNELS_PLAIN_WASM_BASE64, KERNELS_WASM_BASE64 } from './kernelsWasm';

export interface Kernels {
  readonly memory: WebAssembly.Memory;
  /** G[i n + j] += <P_i, P_j> over `used` values of rows of width w, j >= i (byte addresses). */
  syrk(panel: number, gram: number, n: number, width: number, used: number): void;
  /** symmetricEigenvalues' fused update-and-product sweep over rows [0, m) (byte addresses; qo = uo + 32768, p = u + 32768). */
  sweep(a: number, m: number, uo: number, qo: number, u: number, p: number): void;
  /** out (cols x 4, float64) += A^T v for a float32 rows x cols A and 4 interleaved vectors v (byte addresses). */
  atv4(a: number, rows: number, cols: number, v: number, out: number): void;
  /** out (rows x 4) += A m, m cols x 4 interleaved (byte addresses). */
  av4(a: number, rows: number, cols: number, m: number, out: number): void;
  /** out[i] = float32(sum_l w[l] x[l stride + i]), i < m (a multiple of 4), float32 x and out, float64 w (byte addresses). */
  combine(x: number, stride: number, L: number, w: number, out: number, m: number): void;
  /**
   * G[i n + j] (float64) += <P_i, P_j> for j >= i, P n rows of `width` float32 (a multiple of 4) stored
   * in blocks of 256 values (row r of block b at byte 1024 (b n + r)), each product summed in float32
   * within a block, the blocks in float64 (byte addresses).
   */
  syrk32(panel: number, gram: number, n: number, width: number): void;
  /**
   * One pass of the authors' loop over a chunk of n elements for 2 members and 2 templates, the same
   * bits as paperKernel.ts's passTwoByTwo: eight float32 arrays `stride` bytes apart from `base`, the
   * float64 params and then the eight sums at `params` (kernels.wat documents both); flags 1 apply,
   * 2 gradients, 4 MSE (byte addresses).
   */
  paper22(base: number, n: number, stride: number, params: number, flags: number): void;
}

/** Which binary of kernels.wat this thread runs (file comment). */
export type KernelsFlavor = 'fused' | 'plain';

const BINARIES: Readonly<Record<KernelsFlavor, string>> = { fused: KERNELS_WASM_BASE64, plain: KERNELS_PLAIN_WASM_BASE64 };

let enabled = true;
/** Tests: this binary instead of the automatic choice. */
let forced: KernelsFlavor | undefined;
let automatic: KernelsFlavor | null | undefined;
const instances = new Map<KernelsFlavor, Kernels | null>();

/** Node 20: relaxed SIMD behind V8's flag; harmless where the runtime has it on or lacks the flag. */
function enableRelaxedSimd(): void {
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // not a V8 that takes flags: the plain binary it is
  }
}

/** This thread's shared instance of one binary (null where it does not compile). */
function instance(flavor: KernelsFlavor): Kernels | null {
  if (!instances.has(flavor)) instances.set(flavor, instantiateEmbedded<Kernels>(BINARIES[flavor]));
  return instances.get(flavor) ?? null;
}

/** The fused binary (turning relaxed SIMD on where it is behind a flag), else the plain one. */
function automaticFlavor(): KernelsFlavor | null {
  if (automatic === undefined) {
    if (!instance('fused')) {
      enableRelaxedSimd();
      instances.delete('fused');
    }
    automatic = instance('fused') ? 'fused' : instance('plain') ? 'plain' : null;
  }
  return automatic;
}

/** The binary kernels() runs; null without kernels (no WebAssembly SIMD, or switched off). */
export function kernelsFlavor(): KernelsFlavor | null {
  if (!enabled) return null;
  const flavor = forced ?? automaticFlavor();
  return flavor && instance(flavor) ? flavor : null;
}

/** The kernels, or null (no WebAssembly SIMD here, or switched off for a comparison). */
export function kernels(): Kernels | null {
  const flavor = kernelsFlavor();
  return flavor ? instance(flavor) : null;
}

/**
 * A fresh instance of the kernels, its memory its own, for a caller that keeps data in it from one
 * call to the next (kernels()' memory is laid out afresh by every caller); null where kernels() is.
 */
export function ownKernels(): Kernels | null {
  const flavor = kernelsFlavor();
  return flavor ? instantiateEmbedded<Kernels>(BINARIES[flavor]) : null;
}

/** Tests and benches: compare the JavaScript loops with the kernels, or (`flavor`) one binary with the other. */
export function setKernelsEnabled(on: boolean, flavor?: KernelsFlavor): void {
  enabled = on;
  forced = flavor;
}

/** Grows the kernels' memory to at least `bytes` and answers its buffer (valid until the next growth). */
export function reserve(k: Kernels, bytes: number): ArrayBuffer {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
  return k.memory.buffer;
}

/**
 * Float64 views of consecutive regions of the kernels' memory, `lengths` elements each (16-byte
 * aligned), valid until the next call of arena() or any kernel call that grows memory (none does).
 */
export function arena(k: Kernels, lengths: readonly number[]): Float64Array[] {
  let bytes = 0;
  const offsets = lengths.map((len) => {
    const at = bytes;
    bytes += Math.ceil((len * 8) / 16) * 16;
    return at;
  });
  const buffer = reserve(k, bytes);
  return lengths.map((len, i) => new Float64Array(buffer, offsets[i], len));
}
