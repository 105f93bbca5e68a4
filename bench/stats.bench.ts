// Stats section of `npm run bench` (issue 12, target 1): tensor statistics (min, max, mean, std, mean
// |x|, zeros, NaN/Inf, histogram) from the page cache at >= 1 GB/s per core for F32 and BF16, and on
// all cores (the stats pool's worker threads) for a whole checkpoint, so that a 13.5 GB BF16
// checkpoint takes <= 15 s warm. Generated F32 and BF16 checkpoints (1 GiB each, 256 MiB with
// --quick; 8 tensors each) in the OS temp folder, removed afterwards; each is read once first (warm
// cache). Each figure is the best of two runs (one thread and the pool: of five, taken in turns).
// Printed side by side: a plain read of the same bytes (the floor), one thread (F32 also without its
// SIMD kernels), the pool, and numpy computing the same statistics when python3-numpy is there. Each
// one-thread run says how much of it was inside the kernels. Then a ViT-S-shaped F32 checkpoint (many
// tensors of every size, as users open them) on one thread, against the per-core target too, in a
// process of its own as the CLI runs it (bench/vitSCase.ts), after five warm-up runs (the first,
// whose code is still being compiled, printed beside), the best of fifteen.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeBF16, f32Bytes } from '../src/mimicry/safetensors/dtypes';
import { openCheckpoint } from '../src/mimicry/safetensors/reader';
import type { Checkpoint } from '../src/mimicry/safetensors/types';
import { isStatsSkipped, type TensorStatsOutcome } from '../src/mimicry/stats/checkpointStats';
import { computeCheckpointStats, threadsFor } from '../src/mimicry/stats/statsPool';
import { kernelMilliseconds, setStatsKernelsEnabled } from '../src/mimicry/stats/statsKernels';
import { STATS_KERNELS_WASM_BASE64 } from '../src/mimicry/stats/statsKernelsWasm';
import { DEFAULT_BINS } from '../src/mimicry/stats/tensorStats';
import { computeStatsOf } from '../src/mimicry/worker/inspect/jobs';
import { StatsScheduler } from '../src/mimicry/worker/inspect/schedule';
import { statsHelpers } from '../src/mimicry/worker/inspect/statsHelpers';
import { writeVitS } from './vitS';
import { runChildCase } from './childCase';
import { VIT_WARMUP, VITS_CASE_PREFIX, type VitSCaseResult } from './vitSCase';
import { bundleEntry } from '../test/unit/helpers/cli-bundle';

/** Issue targets. */
const PER_CORE_MBS = 1000;
const LLAMA7B_BYTES = 13.5e9;
const LLAMA7B_SECONDS = 15;
const TENSORS = 8;
const BLOCK = 1 << 22;

/** A checkpoint of TENSORS tensors of `dtype`, `bytes` in all, values roughly normal (each block its own scale). */
function generate(file: string, dtype: 'F32' | 'BF16', bytes: number): void {
  const size = dtype === 'F32' ? 4 : 2;
  const per = Math.floor(bytes / size / TENSORS / BLOCK) * BLOCK;
  const header: Record<string, unknown> = {};
  for (let t = 0; t < TENSORS; t++) {
    header[`layers.${t}.weight`] = { dtype, shape: [per / 4096, 4096], data_offsets: [t * per * size, (t + 1) * per * size] };
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const fd = openSync(file, 'w');
  try {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, prefix);
    writeSync(fd, json);
    let seed = 12345;
    const rand = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    const base = new Float32Array(BLOCK);
    for (let i = 0; i < BLOCK; i++) base[i] = rand() + rand() + rand() + rand() - 2;
    const block = new Float32Array(BLOCK);
    for (let b = 0; b < (TENSORS * per) / BLOCK; b++) {
      const scale = 0.01 + 0.04 * rand();
      const shift = 0.001 * (rand() - 0.5);
      for (let i = 0; i < BLOCK; i++) block[i] = base[(i + b * 977) & (BLOCK - 1)] * scale + shift;
      writeSync(fd, dtype === 'F32' ? f32Bytes(block) : encodeBF16(block));
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads the whole file in 8 MiB reads (the stats reader's size); seconds. */
function plainRead(file: string): number {
  const buf = Buffer.allocUnsafe(8 << 20);
  const fd = openSync(file, 'r');
  const t0 = performance.now();
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
  return (performance.now() - t0) / 1000;
}

/** The file read in 8 MiB reads by `threads` worker threads at once, each its own share of it; seconds. */
async function plainReadOnThreads(file: string, threads: number): Promise<number> {
  const code = `
    const { closeSync, openSync, readSync, fstatSync } = require('node:fs');
    const { workerData, parentPort } = require('node:worker_threads');
    const fd = openSync(workerData.file, 'r');
    const size = fstatSync(fd).size;
    const share = Math.ceil(size / workerData.threads);
    const buf = Buffer.allocUnsafe(8 << 20);
    parentPort.once('message', () => {
      for (let at = workerData.index * share, end = Math.min(size, at + share); at < end; ) at += readSync(fd, buf, 0, Math.min(buf.length, end - at), at);
      closeSync(fd);
      parentPort.postMessage('done');
    });
    parentPort.postMessage('ready');`;
  return timedWorkers(code, threads, (index) => ({ file, threads, index }));
}

/**
 * Starts `threads` workers of `code` (each posts 'ready', then works on 'go' and posts when done) and
 * times them from 'go' to the last one done, so their start is not counted; seconds.
 */
async function timedWorkers(code: string, threads: number, data: (index: number) => unknown): Promise<number> {
  const workers = Array.from({ length: threads }, (_, index) => new Worker(code, { eval: true, workerData: data(index) }));
  try {
    await Promise.all(workers.map((w) => once(w, 'message')));
    const t0 = performance.now();
    const done = workers.map((w) => once(w, 'message'));
    for (const w of workers) w.postMessage('go');
    await Promise.all(done);
    return (performance.now() - t0) / 1000;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * The floor of exact F32 statistics on `threads` threads: each thread reads its share of the tensor
 * bytes twice in 8 MiB reads into the stats kernels' memory and runs only the kernels of the two
 * passes (blocks with the bucket table, then marked with nothing marked), with none of the
 * bookkeeping, merging, messages or histogram work around them; seconds.
 */
async function exactF32FloorOnThreads(file: string, from: number, to: number, threads: number): Promise<number> {
  const code = `
    const { closeSync, openSync, readSync } = require('node:fs');
    const { workerData, parentPort } = require('node:worker_threads');
    const { wasm, file, from, to, threads, index } = workerData;
    const k = new WebAssembly.Instance(new WebAssembly.Module(wasm), {}).exports;
    const SLOT = ${9 << 20}, MARKS = ${4 << 20}, INDEX = ${6 << 20}, OUT = ${7 << 20}, CHUNK = ${8 << 20};
    const mem = new Uint8Array(k.memory.buffer);
    const fd = openSync(file, 'r');
    const share = Math.ceil((to - from) / threads / CHUNK) * CHUNK;
    parentPort.once('message', () => {
      const start = from + index * share, end = Math.min(to, start + share);
      for (let pass = 0; pass < 2; pass++)
        for (let at = start; at < end; at += CHUNK) {
          const len = Math.min(CHUNK, end - at);
          for (let got = 0; got < len; ) got += readSync(fd, mem, SLOT + got, len - got, at + got);
          if (pass === 0) k.blocks(SLOT, Math.floor(len / 16384), 0, 1, OUT, 12);
          else k.marked(SLOT, len >>> 2, MARKS, INDEX, 12);
        }
      closeSync(fd);
      parentPort.postMessage('done');
    });
    parentPort.postMessage('ready');`;
  const wasm = Buffer.from(STATS_KERNELS_WASM_BASE64, 'base64');
  return timedWorkers(code, threads, (index) => ({ wasm, file, from, to, threads, index }));
}

/**
 * The inspector's "Compute all statistics" as its worker runs it: StatsScheduler with this thread
 * taking tensors one at a time and the stats pool's workers (statsHelpers) taking runs; tensors done.
 */
async function inspectorComputeAll(ck: Checkpoint, entry: string): Promise<{ done: number; helpers: number }> {
  const names = ck.tensors.map((t) => t.name);
  const helpers = statsHelpers(ck, names, { entry });
  try {
    let done = 0;
    const scheduler = new StatsScheduler((name, bins, signal, onFraction, gate) =>
      computeStatsOf(ck, name, bins, signal, onFraction, gate),
    );
    await scheduler.batch(
      names,
      DEFAULT_BINS,
      new AbortController().signal,
      () => undefined,
      (o) => {
        if (!('stats' in o)) throw new Error(`${o.name} failed`);
        done++;
      },
      helpers?.lanes,
    );
    return { done, helpers: helpers?.lanes.helpers.length ?? 0 };
  } finally {
    helpers?.dispose();
  }
}

/** The best of `runs` runs (the machine is shared: the fastest run is the least disturbed). */
interface Timed<T> {
  readonly value: T;
  readonly seconds: number;
  readonly cpuSeconds: number;
}

async function timed<T>(fn: () => Promise<T>, runs = 2): Promise<Timed<T>> {
  let best: Timed<T> | undefined;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const value = await fn();
    const c = process.cpuUsage(c0);
    const run = { value, seconds: (performance.now() - t0) / 1000, cpuSeconds: (c.user + c.system) / 1e6 };
    if (!best || run.seconds < best.seconds) best = run;
  }
  return best as Timed<T>;
}

// numpy: the same statistics over finite values (float64 moments, histogram over [min, max]), 8 MiB at a time.
const NUMPY = String.raw`
import json, struct, sys, time
import numpy as np
file, bins = sys.argv[1], int(sys.argv[2])
with open(file, 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]; header = json.loads(f.read(n))
t0 = time.perf_counter()
raw = np.memmap(file, np.uint8, 'r', offset=8 + n)
out = {}
for name, spec in header.items():
    a, b = spec['data_offsets']
    blob = raw[a:b]
    def chunks():
        step = 8 << 20
        for i in range(0, b - a, step):
            c = np.asarray(blob[i:i + step])
            x = (c.view('<u2').astype(np.uint32) << 16).view(np.float32) if spec['dtype'] == 'BF16' else c.view('<f4')
            yield x.astype(np.float64)
    cnt = s = sa = zeros = nan = inf = 0; lo = np.inf; hi = -np.inf
    for x in chunks():
        fin = np.isfinite(x); nan += int(np.isnan(x).sum()); inf += int((~fin).sum()) - int(np.isnan(x).sum())
        x = x[fin]; cnt += x.size; s += x.sum(); sa += np.abs(x).sum(); zeros += int((x == 0).sum())
        if x.size: lo = min(lo, x.min()); hi = max(hi, x.max())
    mean = s / cnt; m2 = 0.0; counts = np.zeros(bins)
    for x in chunks():
        x = x[np.isfinite(x)]; m2 += ((x - mean) ** 2).sum(); counts += np.histogram(x, bins, (lo, hi))[0]
    out[name] = dict(mean=mean, std=(m2 / cnt) ** 0.5, min=lo, max=hi, meanAbs=sa / cnt)
print(json.dumps({'seconds': time.perf_counter() - t0, 'stats': out}))
`;

function numpyStats(file: string): { seconds: number; stats: Record<string, { mean: number; std: number }> } | string {
  if (spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0) return 'skipped: python3 with numpy is not available';
  const r = spawnSync('python3', ['-c', NUMPY, file, '64'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return `failed: ${r.stderr.trim().split('\n').at(-1) ?? ''}`;
  return JSON.parse(r.stdout) as { seconds: number; stats: Record<string, { mean: number; std: number }> };
}

/**
 * One-thread statistics of a generated ViT-S checkpoint in a fresh process (vitSCase.ts: warm-up,
 * then the best of fifteen), with its kernels' share, and the same at the default thread count
 * (threadsFor, workers from `entry`: what `inspect --stats` runs).
 */
async function vitSOneThread(
  file: string,
  entry: string,
): Promise<{
  tensors: number;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  read: number;
  kernels: KernelSeconds;
  /** The child's first run, before its warm-up. */
  cold: { seconds: number; cpuSeconds: number };
  byDefault: { threads: number; seconds: number };
}> {
  await writeVitS(file);
  plainRead(file);
  const ck = await openCheckpoint(file);
  try {
    const bytes = ck.tensors.reduce((s, t) => s + t.bytes, 0);
    const child = await runChildCase<VitSCaseResult>(path.join(__dirname, 'vitSCase.ts'), [file], VITS_CASE_PREFIX, 'ViT-S');
    const threads = threadsFor(ck.tensors);
    let byDefault = Infinity;
    for (let r = 0; r < 3; r++)
      byDefault = Math.min(byDefault, (await timed(() => computeCheckpointStats(ck, ck.tensors, { workerEntry: entry }), 1)).seconds);
    const read = Math.min(plainRead(file), plainRead(file));
    return {
      tensors: ck.tensors.length,
      bytes,
      read,
      seconds: child.seconds,
      cpuSeconds: child.cpuSeconds,
      kernels: kernelSecondsOf(child.kernelMs),
      cold: child.cold,
      byDefault: { threads, seconds: byDefault },
    };
  } finally {
    await ck.close();
    rmSync(file, { force: true });
  }
}

interface KernelSeconds {
  readonly total: number;
  /** "0.33 s pass 1 (blocks), 0.18 s pass 2 (marked)": the kernels that ran. */
  readonly parts: string;
}

const KERNEL_ROLES: Record<keyof typeof kernelMilliseconds, string> = {
  blocks: 'pass 1 (blocks)',
  marked: 'pass 2 (marked)',
  count16: 'pattern counts (count16)',
};

/** This thread's kernel seconds since `before` (a copy of kernelMilliseconds). */
function kernelSecondsSince(before: typeof kernelMilliseconds): KernelSeconds {
  const since = { ...kernelMilliseconds };
  for (const k of Object.keys(since) as (keyof typeof since)[]) since[k] -= before[k];
  return kernelSecondsOf(since);
}

/** Kernel seconds from milliseconds per kernel. */
function kernelSecondsOf(ms: Readonly<Record<keyof typeof kernelMilliseconds, number>>): KernelSeconds {
  const ran = (Object.keys(KERNEL_ROLES) as (keyof typeof kernelMilliseconds)[])
    .map((k) => ({ role: KERNEL_ROLES[k], seconds: ms[k] / 1000 }))
    .filter((k) => k.seconds > 0);
  return {
    total: ran.reduce((s, k) => s + k.seconds, 0),
    parts: ran.map((k) => `${k.seconds.toFixed(2)} s ${k.role}`).join(', '),
  };
}

const mbs = (bytes: number, seconds: number): string => `${((bytes / seconds) * 1e-6).toFixed(0)} MB/s`;

function verdict(ok: boolean, what: string, missedBy: string): string {
  return `${ok ? 'PASS' : 'FAIL'} ${what}${ok ? '' : ` (missed by ${missedBy})`}`;
}

/** The largest difference of mean and std (relative to std) between ours and numpy's. */
function agreement(ours: readonly TensorStatsOutcome[], ck: Checkpoint, np: Record<string, { mean: number; std: number }>): string {
  let worst = 0;
  ck.tensors.forEach((t, i) => {
    const s = ours[i];
    const ref = np[t.name];
    if (isStatsSkipped(s) || !ref || s.mean === null || s.std === null) return;
    worst = Math.max(worst, Math.abs(s.mean - ref.mean) / ref.std, Math.abs(s.std - ref.std) / ref.std);
  });
  return worst.toExponential(1);
}

export async function benchStats(quick: boolean): Promise<void> {
  const bytes = quick ? 256 << 20 : 1 << 30;
  const threads = os.availableParallelism();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mimicry-bench-stats-'));
  const cacheBefore = process.env.MIMICRY_COMPILE_CACHE;
  try {
    // The pool's worker as the build ships it (dist/statsWorker.js, started through dist/bundleLoader.js
    // and V8's code cache), bundled here so the bench needs no build; the cache goes in this folder too.
    const entry = path.join(dir, 'statsWorker.js');
    await bundleEntry(path.join(__dirname, '..', 'src/mimicry/stats/statsWorker.ts'), entry);
    await bundleEntry(path.join(__dirname, '..', 'src/mimicry/worker/channel/bundleLoader.ts'), path.join(dir, 'bundleLoader.js'));
    if (cacheBefore !== 'off') process.env.MIMICRY_COMPILE_CACHE = path.join(dir, 'compile-cache');
    console.log(
      `${(bytes / 2 ** 30).toFixed(2)} GiB per dtype in ${TENSORS} tensors${quick ? ' (--quick)' : ''}; ` +
        `${threads} cores; load average ${os.loadavg()[0].toFixed(1)} (other work on the machine slows every figure)`,
    );
    let bf16PoolRate = 0;
    /** MB/s per CPU second of the one-thread run (what one core does, whatever else the machine runs), and wall MB/s. */
    const perCore: Record<string, { cpu: number; wall: number }> = {};
    /** Whole-checkpoint MB/s of the pool, wall clock. */
    const poolWall: Record<string, number> = {};
    /** The default thread count's run (threadsFor): MB/s wall, its threads, the cores it kept busy. */
    const defaultRun: Record<string, { mbs: number; threads: number; busy: number }> = {};
    /** MB/s of one thread's kernels alone (its run's time inside them). */
    const kernelBound: Record<string, number> = {};
    /** Exact F32's floor on all threads, MB/s wall (exactF32FloorOnThreads). */
    const floorWall: Record<string, number> = {};
    for (const dtype of ['F32', 'BF16'] as const) {
      const file = path.join(dir, `${dtype}.safetensors`);
      generate(file, dtype, bytes);
      plainRead(file); // warm the page cache
      const ck = await openCheckpoint(file);
      try {
        const data = ck.tensors.reduce((s, t) => s + t.bytes, 0);
        const read = Math.min(plainRead(file), plainRead(file));
        // What this machine gives two streams at once: the ceiling of any pool's speed-up.
        const readPool = Math.min(await plainReadOnThreads(file, threads), await plainReadOnThreads(file, threads));
        // One thread and the pool taken in turns, best of five each: the machine's moments fall on both.
        const oneRuns: Timed<TensorStatsOutcome[]>[] = [];
        const poolRuns: Timed<TensorStatsOutcome[]>[] = [];
        /** Per one-thread run: seconds inside the kernels (kernelMilliseconds), the rest is everything around them. */
        const kernelRuns = new Map<Timed<TensorStatsOutcome[]>, KernelSeconds>();
        for (let r = 0; r < 5; r++) {
          const before = { ...kernelMilliseconds };
          const run = await timed(() => computeCheckpointStats(ck, ck.tensors, { threads: 1 }), 1);
          kernelRuns.set(run, kernelSecondsSince(before));
          oneRuns.push(run);
          poolRuns.push(await timed(() => computeCheckpointStats(ck, ck.tensors, { threads, workerEntry: entry }), 1));
        }
        const fastest = (runs: Timed<TensorStatsOutcome[]>[]) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
        const one = fastest(oneRuns);
        const inKernels = kernelRuns.get(one) as KernelSeconds;
        if (inKernels.total > 0) kernelBound[dtype] = data / inKernels.total / 1e6;
        const pool = fastest(poolRuns);
        // What `inspect --stats` and the inspector run by default here: threadsFor this checkpoint.
        const autoThreads = threadsFor(ck.tensors, threads);
        const auto =
          autoThreads === 1
            ? one
            : autoThreads === threads
              ? pool
              : await timed(() => computeCheckpointStats(ck, ck.tensors, { threads: autoThreads, workerEntry: entry }));
        // F32 without the SIMD kernels (the JavaScript loops, same results), side by side in this run.
        const noSimd =
          dtype === 'F32'
            ? await timed(async () => {
                setStatsKernelsEnabled(false);
                try {
                  return await computeCheckpointStats(ck, ck.tensors, { threads: 1 });
                } finally {
                  setStatsKernelsEnabled(true);
                }
              })
            : undefined;
        const dataFrom = Math.min(...ck.tensors.map((t) => t.fileOffset));
        const dataTo = Math.max(...ck.tensors.map((t) => t.fileOffset + t.bytes));
        const floor =
          dtype === 'F32'
            ? Math.min(
                await exactF32FloorOnThreads(file, dataFrom, dataTo, threads),
                await exactF32FloorOnThreads(file, dataFrom, dataTo, threads),
              )
            : undefined;
        if (floor !== undefined) floorWall[dtype] = data / floor / 1e6;
        const inspector = await timed(() => inspectorComputeAll(ck, entry));
        const same = JSON.stringify(one.value) === JSON.stringify(pool.value);
        const np = numpyStats(file);
        perCore[dtype] = { cpu: data / one.cpuSeconds / 1e6, wall: data / one.seconds / 1e6 };
        if (dtype === 'BF16') bf16PoolRate = data / pool.seconds;
        poolWall[dtype] = data / pool.seconds / 1e6;
        defaultRun[dtype] = { mbs: data / auto.seconds / 1e6, threads: autoThreads, busy: auto.cpuSeconds / auto.seconds };
        console.log(`${dtype}: ${(data / 1e9).toFixed(2)} GB of tensor data, warm page cache`);
        console.log(`  plain read (floor)      ${mbs(data, read).padStart(12)}  ${read.toFixed(2)} s`);
        console.log(
          `  plain read, ${threads} threads    ${mbs(data, readPool).padStart(12)}  ${readPool.toFixed(2)} s, ${(read / readPool).toFixed(2)}x one ` +
            `(what the machine gives ${threads} streams at once)`,
        );
        console.log(
          `  stats, one thread       ${mbs(data, one.seconds).padStart(12)}  ${one.seconds.toFixed(2)} s ` +
            `(${mbs(data, one.cpuSeconds)} per CPU second)`,
        );
        if (inKernels.total > 0)
          console.log(
            `  one thread's time       ${inKernels.parts} in the kernels (${((inKernels.total / one.seconds) * 100).toFixed(0)}%), ` +
              `${(one.seconds - inKernels.total).toFixed(2)} s around them: with nothing but its kernels one thread would do ${mbs(data, inKernels.total)}`,
          );
        if (noSimd)
          console.log(
            `  one thread, no SIMD     ${mbs(data, noSimd.seconds).padStart(12)}  ${noSimd.seconds.toFixed(2)} s ` +
              `(${mbs(data, noSimd.cpuSeconds)} per CPU second); the SIMD kernels ${(noSimd.cpuSeconds / one.cpuSeconds).toFixed(2)}x per CPU second, ` +
              `results ${JSON.stringify(noSimd.value) === JSON.stringify(one.value) ? 'identical' : 'DIFFER'}`,
          );
        console.log(
          `  stats, pool (${threads} thr.)    ${mbs(data, pool.seconds).padStart(12)}  ${pool.seconds.toFixed(2)} s, ` +
            `${(one.seconds / pool.seconds).toFixed(2)}x one thread; results ${same ? 'identical' : 'DIFFER'} to one thread`,
        );
        console.log(
          `  inspector "compute all" ${mbs(data, inspector.seconds).padStart(12)}  ${inspector.seconds.toFixed(2)} s, ` +
            `${(one.seconds / inspector.seconds).toFixed(2)}x one thread (by default: its worker one tensor at a time` +
            (inspector.value.helpers > 0
              ? `, ${inspector.value.helpers} pool worker(s) taking runs)`
              : ', no helper: they do not pay here)'),
        );
        if (floor !== undefined)
          console.log(
            `  exact F32 floor (${threads} thr.) ${mbs(data, floor).padStart(12)}  ${floor.toFixed(2)} s: the two passes' kernels and ` +
              `reads alone on ${threads} threads started beforehand; the pool reaches ${((floor / pool.seconds) * 100).toFixed(0)}% of it`,
          );
        // Cores kept busy: CPU seconds (this process, its read threads and the pool's workers) per second.
        console.log(
          `  cores busy              one thread ${(one.cpuSeconds / one.seconds).toFixed(2)} (it reads its own bytes, ` +
            `blocking), pool ${(pool.cpuSeconds / pool.seconds).toFixed(2)} of ${threads}`,
        );
        if (typeof np === 'string') console.log(`  numpy                   ${np}`);
        else
          console.log(
            `  numpy (float64)         ${mbs(data, np.seconds).padStart(12)}  ${np.seconds.toFixed(2)} s; ours ` +
              `${(np.seconds / one.seconds).toFixed(1)}x numpy on one thread; mean/std agree to ${agreement(one.value, ck, np.stats)} std`,
          );
      } finally {
        await ck.close();
        rmSync(file, { force: true });
      }
    }
    // Per core: bytes per CPU second of the one-thread run (its wall-clock rate beside it, lower when
    // other work shares the cores).
    for (const dtype of ['F32', 'BF16']) {
      const { cpu, wall } = perCore[dtype];
      console.log(
        verdict(
          cpu >= PER_CORE_MBS,
          `${dtype} >= ${PER_CORE_MBS} MB/s per core: ${cpu.toFixed(0)} MB/s per CPU second (${wall.toFixed(0)} MB/s wall clock)`,
          `${(PER_CORE_MBS / cpu).toFixed(2)}x`,
        ),
      );
    }
    // Both cores: the whole checkpoint as `inspect --stats` and the inspector compute it by default
    // (threadsFor: the threads the cores feed, each reading its own bytes),
    // wall clock, against the per-core target times the cores.
    for (const dtype of ['F32', 'BF16']) {
      const want = PER_CORE_MBS * threads;
      const d = defaultRun[dtype];
      console.log(
        verdict(
          d.mbs >= want,
          `${dtype} whole checkpoint on ${threads} cores >= ${want} MB/s: ${d.mbs.toFixed(0)} MB/s wall clock by default ` +
            `(${d.threads} computing thread${d.threads > 1 ? 's' : ''}, ${d.busy.toFixed(2)} cores busy; ${threads} threads: ` +
            `${poolWall[dtype].toFixed(0)} MB/s)` +
            (floorWall[dtype] ? `; the floor of exact ${dtype} here is ${floorWall[dtype].toFixed(0)} MB/s` : '') +
            (kernelBound[dtype] ? `; one thread's kernels alone: ${kernelBound[dtype].toFixed(0)} MB/s` : ''),
          `${(want / d.mbs).toFixed(2)}x`,
        ),
      );
    }
    // A checkpoint as users open it: many tensors of every size (ViT-S, F32), where the work around the
    // kernels (per tensor: the bucket table's plan, the quantiles, the reads' start) weighs most.
    const vit = await vitSOneThread(path.join(dir, 'vit-s.safetensors'), entry);
    console.log(
      `ViT-S-shaped F32 checkpoint (${vit.tensors} tensors, ${(vit.bytes / 1e6).toFixed(0)} MB), one thread: ${mbs(vit.bytes, vit.seconds)} ` +
        `(${mbs(vit.bytes, vit.cpuSeconds)} per CPU second) in a process of its own after ${VIT_WARMUP} warm-up runs, the first of them ` +
        `${mbs(vit.bytes, vit.cold.seconds)} (${mbs(vit.bytes, vit.cold.cpuSeconds)} per CPU second, its code still compiling); ` +
        `${vit.kernels.parts} in the kernels, ` +
        `${(vit.seconds - vit.kernels.total).toFixed(2)} s around them; by default (${vit.byDefault.threads} threads, ` +
        `as inspect --stats, a fresh worker each run) ${mbs(vit.bytes, vit.byDefault.seconds)}; plain read ${mbs(vit.bytes, vit.read)}`,
    );
    const vitPerCore = vit.bytes / vit.cpuSeconds / 1e6;
    console.log(
      verdict(
        vitPerCore >= PER_CORE_MBS,
        `F32 >= ${PER_CORE_MBS} MB/s per core on a ViT-S-shaped checkpoint: ${vitPerCore.toFixed(0)} MB/s per CPU second`,
        `${(PER_CORE_MBS / vitPerCore).toFixed(2)}x`,
      ),
    );
    const seconds = LLAMA7B_BYTES / bf16PoolRate;
    const idle = LLAMA7B_BYTES / (perCore.BF16.cpu * 1e6 * threads);
    console.log(
      verdict(
        seconds <= LLAMA7B_SECONDS,
        `13.5 GB BF16 checkpoint <= ${LLAMA7B_SECONDS} s warm: ${seconds.toFixed(1)} s, extrapolated from the pool's measured ` +
          `wall-clock BF16 rate (${idle.toFixed(1)} s at the per-core rate on ${threads} idle cores; a real 13.5 GB run needs ` +
          `that much page cache and disk)`,
        `${(seconds / LLAMA7B_SECONDS).toFixed(2)}x`,
      ),
    );
  } finally {
    if (cacheBefore === undefined) delete process.env.MIMICRY_COMPILE_CACHE;
    else process.env.MIMICRY_COMPILE_CACHE = cacheBefore;
    rmSync(dir, { recursive: true, force: true });
  }
}
