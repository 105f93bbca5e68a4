// Child process of the open bench (bench/open.bench.ts): opens one checkpoint the way one of the
// two front ends does, in a fresh process so that the first open is timed with cold code, as a user
// meets it, then again warm:
// - inspector: openCheckpoint (index and every header read and checked), the worker's summary and
//   table rows (worker/inspect/overview.ts), their way to the webview (a structured clone, then
//   JSON), and the Tree tab (naming/prefixTree.ts);
// - cli: openCheckpoint, the report and the text table of `mimicry inspect FILE`.
// Also times the floors: a plain read of the same header bytes, and JSON.parse of them.
// Usage: node --expose-gc --import tsx bench/openCase.ts inspector|cli <checkpoint> [warm repeats]
// Prints one line `OPEN_CASE <json>` (an OpenCaseResult) on stdout.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCheckpoint } from '../src/mimicry/safetensors/reader';
import { overviewOf } from '../src/mimicry/worker/inspect/overview';
import { columnBuffers, rowsOf } from '../src/mimicry/worker/inspect/tensorColumns';
import { buildPrefixTree } from '../src/mimicry/naming/prefixTree';
import { buildInspectReport } from '../src/cli/inspectReport';
import { renderText } from '../src/cli/inspectRender';
import { throughWebviewMessage } from '../test/unit/helpers/webview-message';
import { OPEN_CASE_PREFIX, type OpenCaseResult, type OpenPath, type OpenTimes } from './open.bench';

/** The 8 + N header bytes of every file the checkpoint has (and the index's bytes), read plainly. */
function headerFiles(file: string): string[] {
  if (!file.endsWith('.index.json')) return [file];
  const index = JSON.parse(readFileSync(file, 'utf8')) as { weight_map: Record<string, string> };
  return [...new Set(Object.values(index.weight_map))].map((s) => path.join(path.dirname(file), s));
}

function readHeaders(file: string): Buffer[] {
  const out: Buffer[] = [];
  if (file.endsWith('.index.json')) out.push(readFileSync(file));
  for (const f of headerFiles(file)) {
    const fd = openSync(f, 'r');
    try {
      const prefix = Buffer.alloc(8);
      readSync(fd, prefix, 0, 8, 0);
      const n = Number(prefix.readBigUInt64LE(0));
      const header = Buffer.alloc(n);
      readSync(fd, header, 0, n, 8);
      out.push(header);
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function openOnce(how: OpenPath, file: string, sample: () => void): Promise<OpenTimes> {
  const t0 = performance.now();
  const ckpt = await openCheckpoint(file);
  sample();
  const t1 = performance.now();
  let built: number;
  let t2: number;
  let t3: number;
  if (how === 'inspector') {
    const opened = overviewOf(ckpt);
    sample();
    t2 = performance.now();
    // The worker posts it to the extension host (structured clone, the columns' buffers moved: see
    // worker/inspect/main.ts), which posts one `header`
    // message to the webview (test/unit/helpers/webview-message.ts: VS Code's way); the webview builds the rows
    // from their columns.
    const cloned = structuredClone(opened, { transfer: columnBuffers(opened.tensors) });
    const received = throughWebviewMessage({ type: 'header', summary: cloned.overview, tensors: cloned.tensors });
    const rows = rowsOf(received.tensors);
    sample();
    t3 = performance.now();
    built = buildPrefixTree(rows).length * rows.length;
  } else {
    const report = await buildInspectReport(ckpt, file, { stats: false, spectra: false });
    built = renderText(report, false, false).length;
    t2 = performance.now();
    t3 = t2;
  }
  sample();
  const t4 = performance.now();
  await ckpt.close();
  if (built === 0) throw new Error('open bench: nothing built');
  const s = (ms: number) => ms / 1000;
  return { open: s(t1 - t0), table: s(t2 - t1), transfer: s(t3 - t2), tree: s(t4 - t3), total: s(t4 - t0) };
}

async function main(): Promise<void> {
  const how = process.argv[2] as OpenPath;
  if (how !== 'inspector' && how !== 'cli') throw new Error(`usage: openCase.ts inspector|cli <checkpoint> [repeats]`);
  const file = path.resolve(process.argv[3]);
  const repeats = Number(process.argv[4] ?? 5);
  globalThis.gc?.();
  const base = process.memoryUsage();
  const baseMaxRss = process.resourceUsage().maxRSS * 1024;
  let heapAtPhaseEnds = 0;
  const sample = () => {
    heapAtPhaseEnds = Math.max(heapAtPhaseEnds, process.memoryUsage().heapUsed - base.heapUsed);
  };
  const cold = await openOnce(how, file, sample);
  const processPeakRss = process.resourceUsage().maxRSS * 1024;
  const peakRss = Math.max(0, processPeakRss - Math.max(baseMaxRss, base.rss));
  const runs: OpenTimes[] = [];
  for (let r = 0; r < repeats; r++) {
    globalThis.gc?.();
    runs.push(await openOnce(how, file, () => {}));
  }
  const pick = (k: keyof OpenTimes) => median(runs.map((x) => x[k]));
  const warm: OpenTimes = {
    open: pick('open'),
    table: pick('table'),
    transfer: pick('transfer'),
    tree: pick('tree'),
    total: pick('total'),
  };

  const reads: number[] = [];
  const parses: number[] = [];
  let headerBytes = 0;
  let files = 0;
  for (let r = 0; r < Math.max(3, repeats); r++) {
    const t0 = performance.now();
    const bufs = readHeaders(file);
    const t1 = performance.now();
    for (const b of bufs) JSON.parse(b.toString('utf8'));
    const t2 = performance.now();
    reads.push((t1 - t0) / 1000);
    parses.push((t2 - t1) / 1000);
    headerBytes = bufs.reduce((a, b) => a + b.byteLength, 0);
    files = bufs.length;
  }
  const ckpt = await openCheckpoint(file);
  const result: OpenCaseResult = {
    path: how,
    tensors: ckpt.tensors.length,
    files,
    headerBytes,
    cold,
    warm,
    plainRead: median(reads),
    jsonParse: median(parses),
    peakRss,
    heapAtPhaseEnds,
    processPeakRss,
  };
  await ckpt.close();
  process.stdout.write(`${OPEN_CASE_PREFIX}${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
