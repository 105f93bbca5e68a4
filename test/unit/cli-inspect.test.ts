import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { REAL, REAL_TENSOR_COUNTS } from './helpers/real-fixtures';

const STATS_KEYS = ['histogram', 'infCount', 'max', 'mean', 'meanAbs', 'min', 'nanCount', 'quantiles', 'std', 'zeroFraction'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], stderrIsTTY = false): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: stderrIsTTY },
  });
  return { code, stdout, stderr };
}

interface JsonTensor {
  name: string;
  dtype: string;
  shape: number[];
  offsets: [number, number];
  params: number;
  shard?: string;
  stats?: Record<string, unknown> | null;
  statsSkipped?: string;
  spectrum?: {
    skipped?: string;
    rows: number | null;
    cols: number | null;
    singularValues?: number[];
    stableRank?: number;
    estimated?: { topK: number };
  };
}
interface JsonReport {
  file: string;
  bytes: number;
  metadata: Record<string, string>;
  tensors: JsonTensor[];
}

/** A safetensors file written by hand (independent of the project's writer). */
function safetensors(
  tensors: { name: string; dtype: string; shape: number[]; data: Uint8Array }[],
  metadata?: Record<string, string>,
): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, Buffer.from(json), ...tensors.map((t) => Buffer.from(t.data))]);
}

function f32(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mimicry-cli-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('--json --stats on every real fixture: one JSON document with every tensor and its statistics', async () => {
  for (const [file, count] of Object.entries(REAL_TENSOR_COUNTS)) {
    const path = join(REAL, file);
    const r = await cli(['inspect', path, '--json', '--stats']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const report = JSON.parse(r.stdout) as JsonReport;
    assert.deepEqual(Object.keys(report).sort(), ['bytes', 'file', 'metadata', 'tensors']);
    assert.equal(report.file, path);
    assert.equal(report.tensors.length, count, file);
    for (const t of report.tensors) {
      assert.deepEqual(Object.keys(t).sort(), ['dtype', 'name', 'offsets', 'params', 'shape', 'stats']);
      assert.ok(t.stats);
      assert.deepEqual(Object.keys(t.stats).sort(), STATS_KEYS);
      assert.equal(
        t.params,
        t.shape.reduce((a, b) => a * b, 1),
      );
      assert.equal(t.offsets[1] - t.offsets[0], t.params * 4);
    }
  }
});

test('the JSON report agrees with the reader: sizes, metadata, offsets and values', async () => {
  const path = join(REAL, 'capp-gpt2-4layer.safetensors');
  const report = JSON.parse((await cli(['inspect', path, '--json', '--stats', '--bins', '8'])).stdout) as JsonReport;
  assert.equal(report.bytes, 949_792);
  assert.deepEqual(report.metadata, { format: 'pt' });
  assert.equal(
    report.tensors.reduce((a, t) => a + t.params, 0),
    236_224,
  );
  const ckpt = await openCheckpoint(path);
  try {
    for (const entry of report.tensors) {
      const t = ckpt.tensor(entry.name);
      assert.ok(t);
      assert.deepEqual(entry.offsets, [...t.dataOffsets]);
      const values = Array.from(await ckpt.readValues(t));
      const stats = entry.stats as { min: number; max: number; mean: number; histogram: { edges: number[]; counts: number[] } };
      assert.equal(stats.min, Math.min(...values));
      assert.equal(stats.max, Math.max(...values));
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      assert.ok(Math.abs(stats.mean - mean) <= 1e-9 * Math.max(1, Math.abs(mean)));
      assert.equal(stats.histogram.counts.length, 8);
      assert.equal(
        stats.histogram.counts.reduce((a, b) => a + b, 0),
        values.length,
      );
    }
  } finally {
    await ckpt.close();
  }
});

test('--spectra adds a spectrum to tensors of 2+ dimensions only (conv kernels as out x rest)', async () => {
  const r = await cli(['inspect', join(REAL, 'tinygrad-mnist-cnn.safetensors'), '--json', '--spectra']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  for (const t of report.tensors) {
    assert.equal(t.stats, undefined);
    if (t.shape.length < 2) {
      assert.equal(t.spectrum, undefined, t.name);
      continue;
    }
    assert.ok(t.spectrum && !t.spectrum.skipped, t.name);
    assert.equal(t.spectrum.rows, t.shape[0]);
    assert.equal(t.spectrum.cols, t.params / t.shape[0]);
    assert.equal(t.spectrum.singularValues?.length, Math.min(t.spectrum.rows!, t.spectrum.cols!));
  }
  const conv = report.tensors.find((t) => t.name === 'layers.2.weight');
  assert.deepEqual([conv?.spectrum?.rows, conv?.spectrum?.cols], [32, 800]);

  const capped = JSON.parse(
    (await cli(['inspect', join(REAL, 'tinygrad-mnist-cnn.safetensors'), '--json', '--spectra', '--max-side', '16', '--top-k', '0']))
      .stdout,
  ) as JsonReport;
  const skipped = capped.tensors.find((t) => t.name === 'layers.2.weight')?.spectrum;
  assert.match(String(skipped?.skipped), /smaller side 32 of 32 x 800 is over the spectrum size limit of 16/);
  const small = capped.tensors.find((t) => t.name === 'layers.13.weight')?.spectrum;
  assert.equal(small?.skipped, undefined);

  // Over the limit, by default: the top k singular values, estimated, and said so in the table.
  const args = ['inspect', join(REAL, 'tinygrad-mnist-cnn.safetensors'), '--spectra', '--max-side', '16', '--top-k', '24'];
  const estimated = JSON.parse((await cli([...args, '--json'])).stdout) as JsonReport;
  const est = estimated.tensors.find((t) => t.name === 'layers.2.weight')?.spectrum;
  assert.equal(est?.skipped, undefined);
  assert.equal(est?.estimated?.topK, 24);
  // 24 + 8 oversampling columns span all 32 rows: the estimate is exact up to rounding.
  const exact = conv?.spectrum?.singularValues ?? [];
  est?.singularValues?.forEach((s, i) => assert.ok(Math.abs(s - exact[i]) <= 1e-6 * exact[0], `sigma ${i}: ${s} vs ${exact[i]}`));
  assert.match((await cli(args)).stdout, /layers\.2\.weight: spectrum: estimated from the top 24 singular values/);
});

test('the table: summary header, one aligned row per tensor, statistics and spectra columns', async () => {
  const r = await cli(['inspect', join(REAL, 'capp-gpt2-4layer.safetensors'), '--stats', '--spectra']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^file\s+test\/fixtures\/real\/capp-gpt2-4layer\.safetensors$/);
  assert.match(r.stdout, /^size\s+927\.5 KiB \(949,792 bytes\)$/m);
  assert.match(r.stdout, /^tensors\s+52$/m);
  assert.match(r.stdout, /^params\s+236,224$/m);
  assert.match(r.stdout, /^dtypes\s+F32: 52 tensors, 236,224 params/m);
  assert.match(r.stdout, /^metadata\s+format = pt$/m);
  const head = lines.findIndex((l) => l.startsWith('name '));
  assert.ok(head > 0);
  for (const title of [
    'dtype',
    'shape',
    'params',
    'bytes',
    'min',
    'max',
    'mean',
    'std',
    'zero%',
    'p1',
    'p10',
    'p25',
    'p50',
    'p75',
    'p90',
    'p99',
    's1',
    'stable rank',
    'eff. rank',
  ]) {
    assert.ok(lines[head].includes(title), title);
  }
  const rows = lines.slice(head + 1, head + 53);
  assert.equal(rows.length, 52);
  const dtypeCol = lines[head].indexOf('dtype');
  for (const row of rows) assert.equal(row.slice(dtypeCol, dtypeCol + 4), 'F32 ', row);
  const cproj = rows.find((l) => l.startsWith('transformer.h.0.attn.c_proj.weight '));
  assert.ok(cproj);
  assert.match(cproj, /\[64, 64\]\s+4,096\s+16,384/);
  const bias = rows.find((l) => l.startsWith('transformer.h.0.attn.c_proj.bias '));
  assert.match(String(bias), /-\s+-\s+-$/); // no spectrum for a vector
});

test('a sharded index lists the tensors of every shard, naming the shard', async () => {
  const dir = join(tmp, 'sharded');
  rmSync(dir, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'model-00001-of-00002.safetensors'),
    safetensors([{ name: 'a', dtype: 'F32', shape: [2, 2], data: f32([1, 2, 3, 4]) }]),
  );
  writeFileSync(
    join(dir, 'model-00002-of-00002.safetensors'),
    safetensors([{ name: 'b', dtype: 'F32', shape: [3], data: f32([0, 0, 5]) }]),
  );
  const index = join(dir, 'model.safetensors.index.json');
  writeFileSync(
    index,
    JSON.stringify({
      metadata: { total_size: 28 },
      weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
    }),
  );
  const r = await cli(['inspect', index, '--json', '--stats']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  assert.deepEqual(report.metadata, { total_size: '28' });
  assert.deepEqual(
    report.tensors.map((t) => [t.name, t.shard]),
    [
      ['a', 'model-00001-of-00002.safetensors'],
      ['b', 'model-00002-of-00002.safetensors'],
    ],
  );
  const b = report.tensors[1].stats as { zeroFraction: number; max: number };
  assert.equal(b.max, 5);
  assert.equal(b.zeroFraction, 2 / 3);
  const text = await cli(['inspect', index]);
  assert.match(text.stdout, /^shards\s+2$/m);
  assert.match(text.stdout, /^tensors\s+2$/m);
});

test('tensors whose dtype is not decoded get stats: null with a reason; NaN and Inf are counted', async () => {
  const file = join(tmp, 'mixed.safetensors');
  writeFileSync(
    file,
    safetensors(
      [
        { name: 'scale', dtype: 'F8_E8M0', shape: [4], data: new Uint8Array([127, 128, 126, 127]) },
        { name: 'w', dtype: 'F32', shape: [2, 3], data: f32([1, NaN, Infinity, 0, -2, 4]) },
      ],
      { note: 'line\u001b[31m' },
    ),
  );
  const r = await cli(['inspect', file, '--json', '--stats', '--spectra']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  const scale = report.tensors.find((t) => t.name === 'scale');
  assert.equal(scale?.stats, null);
  assert.match(String(scale?.statsSkipped), /F8_E8M0 is not decoded/);
  const w = report.tensors.find((t) => t.name === 'w');
  assert.deepEqual(
    { ...(w?.stats as object), histogram: undefined },
    {
      min: -2,
      max: 4,
      mean: 0.75,
      std: Math.sqrt((0.25 ** 2 + 0.75 ** 2 + 2.75 ** 2 + 3.25 ** 2) / 4),
      meanAbs: 1.75,
      zeroFraction: 0.25,
      nanCount: 1,
      infCount: 1,
      histogram: undefined,
      // numpy.quantile([-2, 0, 1, 4], [.01, .1, .25, .5, .75, .9, .99]): NaN and Inf left out.
      quantiles: {
        probs: [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99],
        values: [-1.94, -1.4, -0.5, 0.5, 1.75, 3.1000000000000005, 3.9099999999999993],
        error: 0,
      },
    },
  );
  assert.match(String(w?.spectrum?.skipped), /NaN or Inf/);

  const text = await cli(['inspect', file, '--stats']);
  assert.match(text.stdout, /scale: stats: dtype F8_E8M0 is not decoded/);
  assert.match(text.stdout, /w: 1 NaN, 1 Inf/);
  assert.ok(!text.stdout.includes('\u001b'), 'control characters from metadata are escaped');
  assert.match(text.stdout, /note = line\\u001b\[31m/);
});

test('an invalid file: exit 2, one line on stderr naming the file and the rule, nothing on stdout', async () => {
  const bad = join(tmp, 'bad.safetensors');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(10n);
  writeFileSync(bad, Buffer.concat([prefix, Buffer.from('not json!!')]));
  for (const args of [
    ['inspect', bad],
    ['inspect', bad, '--json', '--stats'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^mimicry: .*bad\.safetensors: header is not valid JSON.*\(rule: header-not-json\)\n$/);
  }
  const short = join(tmp, 'short.safetensors');
  writeFileSync(short, 'abc');
  const s = await cli(['inspect', short]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /^mimicry: .*short\.safetensors: file is shorter than the 8-byte header length.*\(rule: file-too-small\)\n$/);
});

test('a missing file or a directory: exit 2 and one line', async () => {
  const missing = join(tmp, 'nope.safetensors');
  const r = await cli(['inspect', missing]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `mimicry: ${missing}: no such file (rule: file-not-found)\n`);
  const d = await cli(['inspect', tmp]);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /^mimicry: [^\n]+\n$/);
});

test('bad usage exits 2 with one line: unknown option, missing argument, bad number, unknown command', async () => {
  const file = join(REAL, 'capp-gpt2-4layer.safetensors');
  for (const args of [
    ['inspect', file, '--nope'],
    ['inspect'],
    ['inspect', file, '--bins', '0'],
    ['inspect', file, '--max-side', 'x'],
    ['frobnicate'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^mimicry: [^\n]+\n$/, args.join(' '));
  }
});

test('--help and --version exit 0 on stdout', async () => {
  const help = await cli(['inspect', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: mimicry inspect \[options\] <file>/);
  assert.match(help.stdout, /--stats/);
  const version = await cli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('progress goes to stderr only when it is a terminal, and is cleared at the end', async () => {
  const file = join(REAL, 'tinygrad-mnist-cnn.safetensors');
  const quiet = await cli(['inspect', file, '--stats', '--json']);
  assert.equal(quiet.stderr, '');
  const tty = await cli(['inspect', file, '--stats', '--json'], true);
  assert.equal(tty.code, 0);
  assert.match(tty.stderr, /\[1\/20\] stats layers\.0\.weight/);
  assert.ok(tty.stderr.endsWith('\r\u001b[K'));
  assert.deepEqual(JSON.parse(tty.stdout), JSON.parse(quiet.stdout));
});

test('the summary says "1 tensor" and "1 param" for a dtype held by one scalar', async () => {
  const file = join(tmp, 'plurals.safetensors');
  writeFileSync(
    file,
    safetensors([
      { name: 'scale', dtype: 'F32', shape: [], data: f32([0.5]) },
      { name: 'w', dtype: 'F64', shape: [2], data: new Uint8Array(new Float64Array([1, 2]).buffer) },
      { name: 'v', dtype: 'F64', shape: [1], data: new Uint8Array(new Float64Array([3]).buffer) },
    ]),
  );
  const r = await cli(['inspect', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {10}F32: 1 tensor, 1 param, 4 bytes$/m);
  assert.match(r.stdout, /^dtypes\s+F64: 2 tensors, 3 params, 24 bytes$/m);
});
