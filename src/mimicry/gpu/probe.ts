// What `mimicry gpu` reports: the adapter WebGPU finds, its limits, and a short float32 matrix
// product on it (throughput, and its largest error against a float64 product of a few rows).
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../recast/random';
import { releaseWebGpu, startWebGpu, type AdapterReport } from './webgpu';

export interface MatmulFigure {
  readonly size: number;
  readonly products: number;
  readonly seconds: number;
  /** 2 size^3 flops per product. */
  readonly gflops: number;
  /** Largest |GPU - float64| over the checked rows, relative to the largest |float64| entry. */
  readonly relError: number;
}

export interface GpuProbe {
  readonly adapter: AdapterReport;
  readonly matmul: MatmulFigure;
}

/** The limits worth printing, in this order (bytes unless the name says otherwise). */
export const SHOWN_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** Float64 product of rows `rows` of A with B, both n x n row-major. */
function referenceRows(a: Float32Array, b: Float32Array, n: number, rows: readonly number[]): Float64Array {
  const out = new Float64Array(rows.length * n);
  rows.forEach((i, r) => {
    for (let k = 0; k < n; k++) {
      const x = a[i * n + k];
      for (let j = 0; j < n; j++) out[r * n + j] += x * b[k * n + j];
    }
  });
  return out;
}

/**
 * Starts tfjs' webgpu backend on whatever adapter there is (software included), times `products`
 * n x n float32 products after one warm-up (one read-back at the end: the GPU is not waited on
 * between them), checks a few rows against float64, and releases the GPU. Throws an Error saying
 * why when there is no usable GPU.
 */
export async function probeGpu(n = 1024, products = 8): Promise<GpuProbe> {
  const previous = tf.getBackend();
  const { report } = await startWebGpu(tf, true);
  try {
    const rng = new Random(1);
    const a = rng.normals(n * n, 1);
    const b = rng.normals(n * n, 1);
    const A = tf.tensor2d(a, [n, n]);
    const B = tf.tensor2d(b, [n, n]);
    try {
      const warm = tf.matMul(A, B);
      const got = (await warm.data()) as Float32Array;
      warm.dispose();
      const rows = [0, n >> 1, n - 1];
      const ref = referenceRows(a, b, n, rows);
      let err = 0;
      let scale = 0;
      rows.forEach((i, r) => {
        for (let j = 0; j < n; j++) {
          err = Math.max(err, Math.abs(got[i * n + j] - ref[r * n + j]));
          scale = Math.max(scale, Math.abs(ref[r * n + j]));
        }
      });
      const t0 = performance.now();
      let acc = tf.zeros([n, n]);
      for (let p = 0; p < products; p++) {
        const c = tf.matMul(A, B);
        const next = tf.add(acc, c);
        c.dispose();
        acc.dispose();
        acc = next;
      }
      await acc.data();
      acc.dispose();
      const seconds = (performance.now() - t0) / 1000;
      return {
        adapter: report,
        matmul: { size: n, products, seconds, gflops: (2 * n ** 3 * products) / seconds / 1e9, relError: scale > 0 ? err / scale : err },
      };
    } finally {
      A.dispose();
      B.dispose();
    }
  } finally {
    releaseWebGpu(tf);
    if (previous && previous !== 'webgpu' && tf.findBackend(previous)) await tf.setBackend(previous);
  }
}
