// Open section of `npm run bench` (issue 12, target 2): what a user waits for when a checkpoint is
// opened, in the CLI (`mimicry inspect FILE`: header(s), report, text table) and in the inspector
// (header(s), summary and table rows, their way to the webview, the Tree tab). Two generated checkpoints, data areas left as
// holes (bench/openCheckpoints.ts), each opened in fresh processes (bench/openCase.ts):
// - a LLaMA-7B-shaped sharded checkpoint (index + 3 shards, 291 tensors, 13.5 GB BF16): < 0.3 s;
// - one file of 100,000 tensors (a 10.7 MB header): < 1 s and < 200 MB (peak RSS rise).
// The figure judged is the first open in a fresh process (cold code, as the user meets it), from the
// median of three such processes (one with --quick); the warm median is printed beside it, and so are the floors: a plain read of the same header bytes and
// JSON.parse of them (which checks nothing and builds everything). The whole CLI process is timed
// too (node start-up and bundle load included) where dist/cli.js is built, beside `node -e 0`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LLAMA_7B, llamaTensors, manyTensors, writeSparseFile, writeSparseSharded } from './openCheckpoints';
import { inspectHost } from '../src/mimicry/worker/inspect/client';

export const OPEN_CASE_PREFIX = 'OPEN_CASE ';

export type OpenPath = 'inspector' | 'cli';

/** Seconds per phase of one open. */
export interface OpenTimes {
  /** openCheckpoint: index, every shard's header read and checked, tensors merged. */
  readonly open: number;
  /** inspector: the summary and one row per tensor; cli: the report and its text table. */
  readonly table: number;
  /** inspector: worker to host (structured clone) and host to webview (JSON); cli: 0. */
  readonly transfer: number;
  /** inspector: the Tree tab; cli: 0. */
  readonly tree: number;
  readonly total: number;
}

export interface OpenCaseResult {
  readonly path: OpenPath;
  readonly tensors: number;
  readonly files: number;
  readonly headerBytes: number;
  readonly cold: OpenTimes;
  /** Median of the warm repeats. */
  readonly warm: OpenTimes;
  /** Floors, warm: reading the header bytes (and index) alone, and JSON.parse of them. */
  readonly plainRead: number;
  readonly jsonParse: number;
  /** Rise of the kernel's peak RSS over the baseline (modules loaded, a GC) during the cold open, bytes. */
  readonly peakRss: number;
  /** Largest heapUsed rise seen at the ends of the cold open's phases (a lower bound of the heap's peak). */
  readonly heapAtPhaseEnds: number;
  /** The process's whole peak RSS (node and tsx included), bytes. */
  readonly processPeakRss: number;
}

export const OPEN_7B_SECONDS = 0.3;
export const OPEN_100K_SECONDS = 1;
export const OPEN_100K_BYTES = 200 * 1e6;
const MANY = 100_000;
/** Fresh processes per case: the one of median cold total is reported. */
const COLD_PROCESSES = 3;

interface Checkpoint {
  readonly label: string;
  readonly file: string;
  readonly bytes: number;
  readonly onDisk: number;
  readonly seconds: number;
}

function runCase(how: OpenPath, file: string, repeats: number): Promise<OpenCaseResult> {
  const entry = path.join(__dirname, 'openCase.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', entry, how, file, String(repeats)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(OPEN_CASE_PREFIX));
      if (code !== 0 || !line) return reject(new Error(`open case ${how} ${file} exited with ${String(code)}:\n${out}`));
      resolve(JSON.parse(line.slice(OPEN_CASE_PREFIX.length)) as OpenCaseResult);
    });
  });
}

/** Median wall time of a whole process, output discarded. */
function processSeconds(args: readonly string[], repeats: number, env: NodeJS.ProcessEnv = process.env): number {
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const res = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26, env });
    times.push((performance.now() - t0) / 1000);
    if (res.status !== 0) throw new Error(`${args.join(' ')} exited with ${String(res.status)}: ${res.stderr.toString()}`);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** A fresh inspector worker (dist/inspectWorker.js, as the extension starts it) opening `file`: seconds to its answer. */
async function workerOpenSeconds(file: string): Promise<number> {
  const t0 = performance.now();
  const host = inspectHost(path.resolve('dist/inspectWorker.js'), file);
  try {
    await host.open();
    const seconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 400)); // time for the loader to write the cache
    return seconds;
  } finally {
    host.dispose();
  }
}

function generate(dir: string): Checkpoint[] {
  const out: Checkpoint[] = [];
  const t0 = performance.now();
  const sharded = path.join(dir, 'llama-7b');
  mkdirSync(sharded);
  const s = writeSparseSharded(sharded, llamaTensors());
  const disk = (files: string[]) => files.reduce((a, f) => a + statSync(f).blocks * 512, 0);
  const shardFiles = (d: string) => [path.join(d, 'model.safetensors.index.json'), ...shardNames(s.shards).map((n) => path.join(d, n))];
  out.push({
    label: `7B (${LLAMA_7B.blocks} blocks, ${s.shards} shards)`,
    file: s.index,
    bytes: s.bytes,
    onDisk: disk(shardFiles(sharded)),
    seconds: (performance.now() - t0) / 1000,
  });
  const t1 = performance.now();
  const many = path.join(dir, 'many.safetensors');
  const bytes = writeSparseFile(many, manyTensors(MANY));
  out.push({
    label: `${MANY.toLocaleString('en-US')} tensors`,
    file: many,
    bytes,
    onDisk: disk([many]),
    seconds: (performance.now() - t1) / 1000,
  });
  return out;
}

function shardNames(n: number): string[] {
  return Array.from({ length: n }, (_, k) => `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`);
}

function table(head: readonly string[], body: readonly (readonly string[])[]): void {
  const widths = head.map((h, i) => body.reduce((w, b) => Math.max(w, b[i].length), h.length));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

const ms = (s: number) => (s < 0.1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(3)} s`);
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

interface Target {
  readonly target: string;
  readonly pass: boolean;
  readonly detail: string;
}

/** "0.412 s (59% under)" or "1.23 s (23% over)". */
function against(value: number, limit: number, show: (v: number) => string): string {
  const pct = Math.round((Math.abs(value - limit) / limit) * 100);
  return `${show(value)} (${pct}% ${value <= limit ? 'under' : 'over'} the ${show(limit)} target)`;
}

export async function benchOpen(quick: boolean): Promise<void> {
  const repeats = quick ? 3 : 7;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mimicry-bench-open-'));
  try {
    const cps = generate(dir);
    for (const c of cps) {
      console.log(`generated ${c.label}: ${gb(c.bytes)} (${mb(c.onDisk)} on disk: data areas are holes) in ${ms(c.seconds)}`);
    }
    const results: { cp: Checkpoint; how: OpenPath; r: OpenCaseResult }[] = [];
    // A cold open is one sample per process, and this VM's slow moments stretch single samples by up
    // to 1.3x: each case runs in COLD_PROCESSES fresh processes and the one of median cold total is
    // reported (all its figures, so the table stays one run's).
    const coldProcesses = quick ? 1 : COLD_PROCESSES;
    for (const cp of cps)
      for (const how of ['inspector', 'cli'] as const) {
        const runs: OpenCaseResult[] = [];
        for (let p = 0; p < coldProcesses; p++) runs.push(await runCase(how, cp.file, repeats));
        runs.sort((a, b) => a.cold.total - b.cold.total);
        results.push({ cp, how, r: runs[Math.floor(runs.length / 2)] });
      }

    console.log('');
    // Timings stretch with whatever else the machine runs: say how busy it was.
    const load = os.loadavg()[0];
    const cores = os.cpus().length;
    console.log(
      `machine load (1-minute average) ${load.toFixed(1)} on ${cores} cores${load > cores ? ': busy, every time below is stretched' : ''}`,
    );
    console.log(
      `first open in a fresh process (cold code; the process of median cold total of ${coldProcesses}); warm: median of ${repeats} more in the same process`,
    );
    const col = results.map(({ cp, how }) => `${cp.label.split(' (')[0]} ${how}`);
    const f = (g: (r: OpenCaseResult) => string) => results.map(({ r }) => g(r));
    table(
      ['', ...col],
      [
        ['tensors / files read', ...f((r) => `${r.tensors} / ${r.files}`)],
        ['header bytes', ...f((r) => mb(r.headerBytes))],
        ['open: headers read and checked', ...f((r) => ms(r.cold.open))],
        ['summary + table (inspector) / report + text (cli)', ...f((r) => ms(r.cold.table))],
        ['worker -> host -> webview (inspector)', ...f((r) => (r.path === 'inspector' ? ms(r.cold.transfer) : '-'))],
        ['tree (inspector)', ...f((r) => (r.path === 'inspector' ? ms(r.cold.tree) : '-'))],
        ['total, cold', ...f((r) => ms(r.cold.total))],
        ['total, warm', ...f((r) => ms(r.warm.total))],
        ['floor: plain read of the header bytes', ...f((r) => ms(r.plainRead))],
        ['floor: JSON.parse of them', ...f((r) => ms(r.jsonParse))],
        [
          'open (cold / warm) over JSON.parse',
          ...f((r) => `${(r.cold.open / r.jsonParse).toFixed(1)}x / ${(r.warm.open / r.jsonParse).toFixed(1)}x`),
        ],
        ['peak RSS rise (kernel maxRSS)', ...f((r) => mb(r.peakRss))],
        ['heapUsed rise at phase ends', ...f((r) => mb(r.heapAtPhaseEnds))],
        ['process peak RSS (node + tsx)', ...f((r) => mb(r.processPeakRss))],
      ],
    );

    // The whole CLI process, as typed at a prompt, where the bundle is built.
    const cli = path.resolve('dist/cli.js');
    const processes: { label: string; seconds: number }[] = [];
    if (existsSync(cli)) {
      const floor = processSeconds(['-e', '0'], repeats);
      console.log('');
      console.log(`whole process, median of ${repeats} (output discarded): node -e 0 ${ms(floor)}`);
      // The executable's code cache (src/cli/bin.ts) against none, in turns: the start-up every command pays.
      const noCache = { ...process.env, MIMICRY_COMPILE_CACHE: 'off' };
      processSeconds([cli, '--help'], 1); // writes the cache
      const help = { cached: [] as number[], none: [] as number[] };
      for (let r = 0; r < repeats; r++) {
        help.cached.push(processSeconds([cli, '--help'], 1));
        help.none.push(processSeconds([cli, '--help'], 1, noCache));
      }
      const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      console.log(
        `  node dist/cli.js --help: ${ms(median(help.cached))} with its code cache, ${ms(median(help.none))} without ` +
          `(${ms(median(help.cached) - floor)} and ${ms(median(help.none) - floor)} over node -e 0)`,
      );
      // The inspector's worker as the extension starts it (WorkerHost), from its start to its answer to `open`.
      const worker = { cached: [] as number[], none: [] as number[] };
      const asked = process.env.MIMICRY_COMPILE_CACHE;
      try {
        await workerOpenSeconds(cps[0].file); // writes the cache
        for (let r = 0; r < repeats; r++) {
          delete process.env.MIMICRY_COMPILE_CACHE;
          if (asked !== undefined) process.env.MIMICRY_COMPILE_CACHE = asked;
          worker.cached.push(await workerOpenSeconds(cps[0].file));
          process.env.MIMICRY_COMPILE_CACHE = 'off';
          worker.none.push(await workerOpenSeconds(cps[0].file));
        }
      } finally {
        if (asked === undefined) delete process.env.MIMICRY_COMPILE_CACHE;
        else process.env.MIMICRY_COMPILE_CACHE = asked;
      }
      console.log(
        `  the inspector's worker, started and open on <${cps[0].label}>: ${ms(median(worker.cached))} with its code cache, ` +
          `${ms(median(worker.none))} without`,
      );
      for (const cp of cps) {
        const seconds = processSeconds([cli, 'inspect', cp.file], repeats);
        processes.push({ label: cp.label, seconds });
        console.log(`  node dist/cli.js inspect <${cp.label}>: ${ms(seconds)} (${ms(seconds - floor)} over node -e 0)`);
      }
    } else console.log('\n(dist/cli.js not built: the whole-process timing is skipped; npm run build first)');

    const targets: Target[] = [];
    for (const { cp, how, r } of results) {
      const is7b = cp === cps[0];
      const limit = is7b ? OPEN_7B_SECONDS : OPEN_100K_SECONDS;
      const what = how === 'inspector' ? 'header, summary, table and tree' : '`inspect` report and table';
      targets.push({
        target: `${cp.label}, ${how}: ${what} in < ${limit} s`,
        pass: r.cold.total < limit,
        detail: `${against(r.cold.total, limit, ms)}, warm ${ms(r.warm.total)}; JSON.parse alone ${ms(r.jsonParse)}`,
      });
      if (!is7b) {
        targets.push({
          target: `${cp.label}, ${how}: < ${mb(OPEN_100K_BYTES)} (peak RSS rise; heap at phase ends)`,
          pass: r.peakRss < OPEN_100K_BYTES && r.heapAtPhaseEnds < OPEN_100K_BYTES,
          detail: `RSS ${against(r.peakRss, OPEN_100K_BYTES, mb)}, heap ${mb(r.heapAtPhaseEnds)}`,
        });
      }
    }
    console.log('');
    for (const t of targets) console.log(`${t.pass ? 'PASS' : 'FAIL'}  ${t.target}: ${t.detail}`);

    mkdirSync('bench-results', { recursive: true });
    const json = { date: new Date().toISOString(), quick, cores, load, checkpoints: cps, results, processes, targets };
    writeFileSync('bench-results/open.json', JSON.stringify(json, null, 2) + '\n');
    console.log('wrote bench-results/open.json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
