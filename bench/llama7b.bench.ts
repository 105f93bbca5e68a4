// llama7b section of `npm run bench` (issue 12, item 5): a LLaMA-7B-shaped sharded BF16 checkpoint (32
// blocks, width 4096, MLP 11008, 7 roles; 13.5 GB of tensor data in 5 GB shards, as transformers
// writes it), generated in the OS temp folder by a structured cheap generator: a pool of random BF16
// rows drawn once, each tensor's rows copied from it at a per-tensor offset with a per-tensor sign,
// so writing runs at memory speed and no two layers are equal. Skipped with a message where the disk
// has less than 60 GB free (source, export, and the template store's float32 scratch). `--quick` makes 4 blocks (1.6 GB) instead of 32, same shapes.
//
// Timed in a child process (bench/llama7bCase.ts, so its memory is its own): open, full statistics on
// the stats pool, and a spectral reconstruction of all 7 roles (2 blocks per group, n = 2) with
// fidelity, diversity, similarity and template entropy (estimated: every template is over the exact
// route's 1024), writing the reparameterized file and the report. Printed beside their targets:
// open < 0.3 s, statistics <= 15 s for 13.5 GB warm (scaled to the data for --quick), memory within
// 4 x the largest group in float32, and the whole run in minutes.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleEntry } from '../test/unit/helpers/cli-bundle';
import { runChildCase } from './childCase';
import { encodeBF16 } from '../src/mimicry/safetensors/dtypes';
import { LLAMA_7B, llamaTensors, type SparseTensor } from './openCheckpoints';

export const LLAMA7B_CASE_PREFIX = 'LLAMA7B_CASE ';

export interface Llama7bCaseResult {
  readonly tensors: number;
  readonly dataBytes: number;
  readonly openSeconds: number;
  readonly statsSeconds: number;
  readonly statsTensors: number;
  readonly reconstructSeconds: number;
  readonly phases: Readonly<Record<string, number>>;
  readonly banks: number;
  readonly layers: number;
  readonly minCosine: number;
  readonly entropyBanks: number;
  readonly estimatedBanks: number;
  readonly worstEntropyError: number;
  readonly largestGroupF32: number;
  /** Peak RSS above the baseline during the reconstruction and write. */
  readonly peakRss: number;
  /** What the run was doing at the peak: the last phase event (phase and bank) or tensor written. */
  readonly peakAt: string;
  /** RSS above the baseline when the reconstruction starts (what open and statistics left). */
  readonly startRss: number;
  readonly outBytes: number;
}

/** Source 13.5 GB, export 13.5 GB (BF16 templates) and the template store's float32 scratch 27 GB. */
const MIN_FREE_BYTES = 60e9;
const OPEN_SECONDS = 0.3;
const STATS_SECONDS_13_5GB = 15;
const MEMORY_MULTIPLE = 4;
/** "The whole run takes minutes": open, statistics, reconstruction and write within this. */
const WHOLE_RUN_SECONDS = 30 * 60;
const SHARD_BYTES = 5_000_000_000;

/** Rows of random BF16 values that every tensor's rows are copied from (the widest row is 11008). */
const POOL_ROWS = 4099; // prime: offsets wrap onto different rows for every tensor
const POOL_WIDTH = LLAMA_7B.mlp;

function randomPool(): Uint8Array {
  let seed = 2024;
  const rand = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  const values = new Float32Array(POOL_ROWS * POOL_WIDTH);
  for (let i = 0; i < values.length; i++) values[i] = (rand() + rand() + rand() - 1.5) * 0.04;
  return encodeBF16(values);
}

/** Bytes of one tensor: rows from the pool at this tensor's offset; odd tensors flip every sign bit. */
function writeTensor(fd: number, pool: Uint8Array, t: SparseTensor, k: number): void {
  const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
  const rowBytes = cols * 2;
  const chunkRows = Math.max(1, Math.floor((8 << 20) / rowBytes));
  const chunk = new Uint8Array(chunkRows * rowBytes);
  const view = new Uint16Array(chunk.buffer);
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    const n = Math.min(chunkRows, rows - r0);
    for (let r = 0; r < n; r++) {
      const from = ((r0 + r) * 31 + k * 977) % POOL_ROWS;
      chunk.set(pool.subarray(from * POOL_WIDTH * 2, from * POOL_WIDTH * 2 + rowBytes), r * rowBytes);
    }
    if (k % 2 === 1) for (let i = 0; i < n * cols; i++) view[i] ^= 0x8000;
    writeSync(fd, chunk, 0, n * rowBytes);
  }
}

/** Shards of at most SHARD_BYTES and the index, as transformers writes them; answers the index path and the data bytes. */
function generate(dir: string, blocks: number): { index: string; bytes: number } {
  const tensors = llamaTensors({ ...LLAMA_7B, blocks });
  const pool = randomPool();
  const shards: SparseTensor[][] = [[]];
  let size = 0;
  const bytesOf = (t: SparseTensor): number => t.shape.reduce((a, b) => a * b, 1) * 2;
  for (const t of tensors) {
    if (size + bytesOf(t) > SHARD_BYTES && shards[shards.length - 1].length > 0) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += bytesOf(t);
  }
  const weightMap: Record<string, string> = {};
  let total = 0;
  let k = 0;
  shards.forEach((list, s) => {
    const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let at = 0;
    for (const t of list) {
      header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [at, at + bytesOf(t)] };
      at += bytesOf(t);
      weightMap[t.name] = name;
    }
    let json = JSON.stringify(header);
    while ((8 + json.length) % 8 !== 0) json += ' ';
    const fd = openSync(path.join(dir, name), 'w');
    try {
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(json.length));
      writeSync(fd, prefix);
      writeSync(fd, json);
      for (const t of list) writeTensor(fd, pool, t, k++);
    } finally {
      closeSync(fd);
    }
    total += at;
  });
  const index = path.join(dir, 'model.safetensors.index.json');
  writeFileSync(index, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return { index, bytes: total };
}

const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;
const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

function verdict(ok: boolean, what: string, missedBy: string): string {
  return `${ok ? 'PASS' : 'FAIL'} ${what}${ok ? '' : ` (missed by ${missedBy})`}`;
}

export async function benchLlama7b(quick: boolean): Promise<void> {
  const blocks = quick ? 4 : LLAMA_7B.blocks;
  const tmp = os.tmpdir();
  const free = statfsSync(tmp).bavail * statfsSync(tmp).bsize;
  if (!quick && free < MIN_FREE_BYTES) {
    console.log(
      `skipped: ${gb(free)} free in ${tmp}, the 7B case needs ${gb(MIN_FREE_BYTES)} (source, export and the template store's float32 scratch)`,
    );
    return;
  }
  const dir = mkdtempSync(path.join(tmp, 'mimicry-bench-llama7b-'));
  try {
    const statsWorker = path.join(dir, 'statsWorker.js');
    await bundleEntry(path.join(__dirname, '..', 'src/mimicry/stats/statsWorker.ts'), statsWorker);
    const src = path.join(dir, 'source');
    const out = path.join(dir, 'out');
    mkdirSync(src);
    mkdirSync(out);
    let t = performance.now();
    const { index, bytes } = generate(src, blocks);
    const genSeconds = (performance.now() - t) / 1000;
    console.log(
      `LLaMA-shaped BF16, ${blocks} blocks (width ${LLAMA_7B.width}, MLP ${LLAMA_7B.mlp}, 7 roles)${quick ? ' (--quick: 4 of 32 blocks)' : ''}: ` +
        `${gb(bytes)} generated in ${genSeconds.toFixed(1)} s; ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(1)}`,
    );
    t = performance.now();
    const r = await runChildCase<Llama7bCaseResult>(
      path.join(__dirname, 'llama7bCase.ts'),
      [index, out, statsWorker],
      LLAMA7B_CASE_PREFIX,
      'llama7b',
    );
    const whole = (performance.now() - t) / 1000;
    const statsTarget = (STATS_SECONDS_13_5GB * r.dataBytes) / 13.5e9;
    const memoryTarget = MEMORY_MULTIPLE * r.largestGroupF32;
    const phases = Object.entries(r.phases)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ');
    console.log(`  open                 ${r.openSeconds.toFixed(3)} s (${r.tensors} tensors)`);
    console.log(
      `  statistics           ${r.statsSeconds.toFixed(1)} s for ${gb(r.dataBytes)} (${((r.dataBytes / r.statsSeconds) * 1e-6).toFixed(0)} MB/s, ${r.statsTensors} tensors)`,
    );
    console.log(
      `  reconstruct + write  ${r.reconstructSeconds.toFixed(1)} s: ${r.banks} banks, ${r.layers} layers, min cosine ${r.minCosine.toFixed(5)}; ${phases}`,
    );
    console.log(
      `  template entropy     ${r.entropyBanks} of ${r.banks} banks, ${r.estimatedBanks} estimated (worst error ±${r.worstEntropyError.toPrecision(2)} nats)`,
    );
    console.log(
      `  memory               peak RSS +${mb(r.peakRss)} during reconstruct + write (at ${r.peakAt || 'start'}; +${mb(r.startRss)} at its start); largest group in float32 ${mb(r.largestGroupF32)} (${(r.peakRss / r.largestGroupF32).toFixed(2)}x)`,
    );
    console.log(`  reparameterized     ${gb(r.outBytes)} (${(r.outBytes / bytes).toFixed(2)}x of the source's tensor data)`);
    console.log(
      verdict(
        r.openSeconds < OPEN_SECONDS,
        `open < ${OPEN_SECONDS} s: ${r.openSeconds.toFixed(3)} s`,
        `${(r.openSeconds - OPEN_SECONDS).toFixed(3)} s`,
      ),
    );
    console.log(
      verdict(
        r.statsSeconds <= statsTarget,
        `statistics <= ${statsTarget.toFixed(1)} s (15 s per 13.5 GB): ${r.statsSeconds.toFixed(1)} s`,
        `${(r.statsSeconds / statsTarget).toFixed(2)}x`,
      ),
    );
    console.log(
      verdict(
        r.peakRss <= memoryTarget,
        `memory <= ${MEMORY_MULTIPLE} x largest group (${mb(memoryTarget)}): +${mb(r.peakRss)}`,
        `${(r.peakRss / memoryTarget).toFixed(2)}x`,
      ),
    );
    console.log(
      verdict(
        r.estimatedBanks === r.entropyBanks && r.entropyBanks === r.banks,
        `template entropy for every bank, labelled estimated: ${r.estimatedBanks} of ${r.banks}`,
        `${r.banks - r.estimatedBanks} banks`,
      ),
    );
    console.log(
      verdict(
        whole <= WHOLE_RUN_SECONDS,
        `the whole run in minutes (<= ${WHOLE_RUN_SECONDS / 60} min): ${(whole / 60).toFixed(1)} min`,
        `${((whole - WHOLE_RUN_SECONDS) / 60).toFixed(1)} min`,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
