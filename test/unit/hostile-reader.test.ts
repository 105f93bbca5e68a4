// Hostile inputs, one for each class the reader must refuse (or survive): files that are not
// regular files (FIFO, socket, device, folder), symbolic links that loop or lead out of a model's
// folder, stray tensors in shards, headers built to exhaust the parser, tensors whose spectra
// cannot be computed and checkpoints of 200,000 empty tensors. Each runs through the CLI in a
// process of its own (test/unit/helpers/cli-child.ts) under a time limit, so a hang fails its test
// instead of stalling the run. A refusal must exit 2 with exactly one line on stderr that names
// the file and the rule, print nothing of a file outside the model's folder, write nothing and
// leave every file as it was.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runCli } from '../../src/cli/main';
import { toCliError } from '../../src/cli/io';
import { renderJson, renderJsonChunks } from '../../src/cli/inspectRender';
import type { InspectReport } from '../../src/cli/inspectReport';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { checkJsonBytes, parseHeader, parseJsonChecked, JsonReader } from '../../src/mimicry/safetensors/header';
import { mergeShardTensors, parseShardIndex } from '../../src/mimicry/safetensors/sharded';
import { gramOfMatrix } from '../../src/mimicry/stats/gram';
import { isSpectrumSkipped, spectrumFromMatrix } from '../../src/mimicry/stats/spectrum';
import { computeTensorStats } from '../../src/mimicry/stats/tensorStats';
import { craft, entry, rejectsWithRule, throwsWithRule } from './helpers/safetensors-craft';
import { rng } from './helpers/rng';

const CHILD = 'test/unit/helpers/cli-child.ts';
/** Generous: every case here answers in a second or two; only a hang comes near it. */
const LIMIT_MS = 20_000;
/**
 * The 200,000-tensor cases print up to 96 MB of JSON: 4 s alone here, and 21 s once in CI while other
 * test files ran on the same two cores. Still a hang detector, not a timing.
 */
const LARGE_LIMIT_MS = 90_000;
const GPT2 = 'test/fixtures/real/capp-gpt2-4layer.safetensors';
const POSIX = process.platform !== 'win32';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI in a child process; a run that does not end within `limitMs` is killed and fails. */
function child(args: readonly string[], limitMs = LIMIT_MS): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CHILD, ...args],
      { timeout: limitMs, killSignal: 'SIGKILL', maxBuffer: 512 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) {
          reject(new Error(`mimicry ${args.join(' ')} did not answer within ${limitMs} ms (a hang?)`));
        } else {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
        }
      },
    );
  });
}

/** Several command lines in one child process (one start), each with its own status and output. */
async function batch(runs: readonly (readonly string[])[]): Promise<Result[]> {
  const r = await child(['--batch', JSON.stringify(runs)]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Result[];
}

/** Every file and link under the folders: kind, and the bytes' hash or the link's target. */
function snapshot(...dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (root: string, dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      const rel = relative(root, p);
      if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${rel}/`);
        walk(root, p);
      } else if (st.isFile()) out.push(`${rel} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
      else out.push(`${rel} (${st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'other'})`);
    }
  };
  for (const d of dirs) walk(d, d);
  return out;
}

/** A safetensors file from tensors of raw bytes. */
function safetensors(tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }>): Uint8Array {
  const header: Record<string, object> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = entry(t.dtype, t.shape, offset, offset + t.data.length);
    offset += t.data.length;
  }
  const data = new Uint8Array(offset);
  offset = 0;
  for (const t of Object.values(tensors)) {
    data.set(t.data, offset);
    offset += t.data.length;
  }
  return craft(header, data);
}

const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
const f64 = (values: number[]): Uint8Array => new Uint8Array(new Float64Array(values).buffer);
const GOOD = safetensors({ a: { dtype: 'F32', shape: [2, 2], data: f32([1, 2, 3, 4]) } });

let tmp = '';
let outside = '';
/** A file outside every model folder, which no message may ever show a byte of. */
let secret = '';
const SECRET_TEXT = 'root:x:0:0:SECRET-hostile-reader-marker\n';
/** Its first 8 bytes read as a little-endian header length: what an old message printed. */
const SECRET_U64 = Buffer.from(SECRET_TEXT).readBigUInt64LE(0).toString();
/** A valid reparameterized file, for `metrics RECAST --source HOSTILE`. */
let recast = '';
let caseCount = 0;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mimicry-hostile-'));
  outside = join(tmp, 'outside');
  mkdirSync(outside);
  secret = join(outside, 'secret.safetensors');
  writeFileSync(secret, SECRET_TEXT.repeat(4));
  mkdirSync(join(tmp, 'recast'));
  recast = join(tmp, 'recast', 'r.safetensors');
  let err = '';
  const code = await runCli(['reconstruct', GPT2, '--out', recast, '--modules', 'mlp.c_fc', '--blocks-per-group', '4'], {
    stdout: { write: () => undefined },
    stderr: { write: (s: string) => (err += s) },
  });
  assert.equal(code, 0, err);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A fresh folder for one case. */
function caseDir(): string {
  const dir = join(tmp, `case-${++caseCount}`);
  mkdirSync(dir);
  return dir;
}

/** Every command that reads a checkpoint, on `input`, writing (if anything) into `dir`. */
function everyCommand(input: string, dir: string): string[][] {
  return [
    ['inspect', input, '--json', '--stats'],
    ['inspect', input, '--spectra'],
    [
      'reconstruct',
      input,
      '--out',
      join(dir, 'out.safetensors'),
      '--dense',
      join(dir, 'dense.safetensors'),
      '--report',
      join(dir, 'r.json'),
    ],
    ['rebuild', input, '--out', join(dir, 'rebuilt.safetensors')],
    ['metrics', input],
    ['metrics', recast, '--source', input],
  ];
}

/** Exactly one line: `mimicry: <...names...>: <text> (rule: <rule>)`, and nothing of the secret. */
function assertRefusal(what: string, r: Result, rule: string, names: string): void {
  assert.equal(r.code, 2, `${what}: status ${r.code}, stderr ${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  assert.ok(r.stderr.endsWith('\n'), `${what}: ${JSON.stringify(r.stderr)}`);
  const lines = r.stderr.slice(0, -1).split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got ${JSON.stringify(r.stderr)}`);
  const line = lines[0];
  assert.ok(line.startsWith(`mimicry: ${names}: `), `${what}: the line names ${names}: ${line}`);
  assert.ok(line.endsWith(` (rule: ${rule})`), `${what}: rule ${rule}: ${line}`);
  assertNoSecret(what, r);
}

function assertNoSecret(what: string, r: Result): void {
  for (const text of [r.stdout, r.stderr]) {
    assert.ok(
      !text.includes('SECRET') && !text.includes('root:x') && !text.includes(SECRET_U64),
      `${what} shows the outside file: ${text}`,
    );
  }
}

/**
 * Every command on `input` is refused by `rule` with a line naming `names` (default: the input),
 * and nothing changes on disk: no output, no temporary file, the sources and the outside file as
 * they were.
 */
async function refusedEverywhere(dir: string, input: string, rule: string, names = input): Promise<void> {
  const before = snapshot(dir, outside, join(tmp, 'recast'));
  const runs = everyCommand(input, dir);
  const results = await batch(runs);
  for (const [k, r] of results.entries()) assertRefusal(runs[k].join(' '), r, rule, names);
  assert.deepEqual(snapshot(dir, outside, join(tmp, 'recast')), before, 'nothing written, nothing changed');
}

function mkfifo(p: string): void {
  const r = spawnSync('mkfifo', [p]);
  assert.equal(r.status, 0, `mkfifo: ${r.stderr}`);
}

async function listen(p: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(p, resolve));
  return server;
}

function writeIndex(dir: string, weightMap: Record<string, string>): string {
  const index = join(dir, 'model.safetensors.index.json');
  writeFileSync(index, JSON.stringify({ metadata: { total_size: 16 }, weight_map: weightMap }));
  return index;
}

describe('files that are not regular files are refused up front, never opened', { skip: !POSIX && 'POSIX file types' }, () => {
  test('a FIFO named x.safetensors (opening it would block forever): the real process exits 2 with one line', async () => {
    const dir = caseDir();
    const fifo = join(dir, 'x.safetensors');
    mkfifo(fifo);
    const r = await child(['inspect', fifo, '--json', '--stats']);
    assertRefusal('inspect FIFO', r, 'not-a-regular-file', fifo);
    assert.match(r.stderr, /\(a FIFO\)/);
    await refusedEverywhere(dir, fifo, 'not-a-regular-file');
  });

  test('a Unix socket named x.safetensors', async () => {
    const dir = caseDir();
    const sock = join(dir, 'x.safetensors');
    const server = await listen(sock);
    try {
      await refusedEverywhere(dir, sock, 'not-a-regular-file');
    } finally {
      server.close();
    }
  });

  test('a directory named x.safetensors', async () => {
    const dir = caseDir();
    const folder = join(dir, 'x.safetensors');
    mkdirSync(folder);
    await refusedEverywhere(dir, folder, 'not-a-regular-file');
  });

  test('a link to a device', { skip: !existsSync('/dev/zero') && 'no /dev/zero' }, async () => {
    const dir = caseDir();
    const link = join(dir, 'x.safetensors');
    symlinkSync('/dev/zero', link);
    await refusedEverywhere(dir, link, 'not-a-regular-file');
  });

  test('an index that is a FIFO', async () => {
    const dir = caseDir();
    const index = join(dir, 'model.safetensors.index.json');
    mkfifo(index);
    await refusedEverywhere(dir, index, 'not-a-regular-file');
  });

  test('an index whose weight_map names a FIFO shard: the line names the shard', async () => {
    const dir = caseDir();
    writeFileSync(join(dir, 'model-1.safetensors'), GOOD);
    mkfifo(join(dir, 'fifo.safetensors'));
    const index = writeIndex(dir, { a: 'model-1.safetensors', b: 'fifo.safetensors' });
    await refusedEverywhere(dir, index, 'not-a-regular-file', join(dir, 'fifo.safetensors'));
  });

  test('the reader refuses them without a CLI too', async () => {
    const dir = caseDir();
    const sock = join(dir, 's.safetensors');
    const server = await listen(sock);
    try {
      const e = await rejectsWithRule(openCheckpoint(sock), 'not-a-regular-file', sock);
      assert.equal(e.detail, 'a socket');
    } finally {
      server.close();
    }
    mkdirSync(join(dir, 'd.safetensors'));
    await rejectsWithRule(openCheckpoint(join(dir, 'd.safetensors')), 'not-a-regular-file', join(dir, 'd.safetensors'));
  });
});

describe('symbolic links: loops get a rule of their own, shards may not lead out of the folder', { skip: !POSIX && 'symlinks' }, () => {
  test('a file that is a link to itself', async () => {
    const dir = caseDir();
    const loop = join(dir, 'x.safetensors');
    symlinkSync('x.safetensors', loop);
    await refusedEverywhere(dir, loop, 'symlink-loop');
  });

  test('two links that point at each other', async () => {
    const dir = caseDir();
    symlinkSync('b.safetensors', join(dir, 'a.safetensors'));
    symlinkSync('a.safetensors', join(dir, 'b.safetensors'));
    await refusedEverywhere(dir, join(dir, 'a.safetensors'), 'symlink-loop');
    await rejectsWithRule(openCheckpoint(join(dir, 'a.safetensors')), 'symlink-loop', join(dir, 'a.safetensors'));
  });

  test('a shard that is a link loop: the line names the shard', async () => {
    const dir = caseDir();
    writeFileSync(join(dir, 'model-1.safetensors'), GOOD);
    symlinkSync('loop.safetensors', join(dir, 'loop.safetensors'));
    const index = writeIndex(dir, { a: 'model-1.safetensors', b: 'loop.safetensors' });
    await refusedEverywhere(dir, index, 'symlink-loop', join(dir, 'loop.safetensors'));
  });

  test('a shard linked to a file outside the folder is refused before any shard is read; nothing of it is shown', async () => {
    const dir = caseDir();
    writeFileSync(join(dir, 'model-1.safetensors'), GOOD);
    symlinkSync(secret, join(dir, 'link.safetensors'));
    const index = writeIndex(dir, { a: 'model-1.safetensors', b: 'link.safetensors' });
    await refusedEverywhere(dir, index, 'shard-outside-folder', index);
    const e = await rejectsWithRule(openCheckpoint(index), 'shard-outside-folder', index);
    assert.match(e.message, /"link\.safetensors"/);
  });

  test('a shard inside a linked folder that is outside (the name itself looks harmless)', async () => {
    const dir = caseDir();
    writeFileSync(join(dir, 'model-1.safetensors'), GOOD);
    symlinkSync(outside, join(dir, 'sub'));
    const index = writeIndex(dir, { a: 'model-1.safetensors', b: 'sub/secret.safetensors' });
    await refusedEverywhere(dir, index, 'shard-outside-folder', index);
  });

  test('links that stay inside the folder are fine, as are files of a snapshot linked into a blob folder (the Hugging Face cache)', async () => {
    const dir = caseDir();
    // model/blobs/<hash> hold the bytes; model/snapshots/rev/ holds links to them, the index too.
    const blobs = join(dir, 'blobs');
    const snap = join(dir, 'snapshots', 'rev');
    mkdirSync(blobs);
    mkdirSync(snap, { recursive: true });
    writeFileSync(join(blobs, 'aaa'), GOOD);
    writeFileSync(join(blobs, 'idx'), JSON.stringify({ weight_map: { a: 'model-1.safetensors' } }));
    symlinkSync(join('..', '..', 'blobs', 'aaa'), join(snap, 'model-1.safetensors'));
    symlinkSync(join('..', '..', 'blobs', 'idx'), join(snap, 'model.safetensors.index.json'));
    const ck = await openCheckpoint(join(snap, 'model.safetensors.index.json'));
    try {
      assert.deepEqual(
        ck.tensors.map((t) => t.name),
        ['a'],
      );
      assert.equal(ck.tensors[0].file, join(snap, 'model-1.safetensors'));
    } finally {
      await ck.close();
    }
  });
});

describe('sharded: the tensors of the shards are exactly those of weight_map', () => {
  test('a tensor in a shard that weight_map does not list is refused by every command', async () => {
    const dir = caseDir();
    const shard = safetensors({
      a: { dtype: 'F32', shape: [2, 2], data: f32([1, 2, 3, 4]) },
      stray: { dtype: 'F32', shape: [1], data: f32([5]) },
    });
    writeFileSync(join(dir, 'model-1.safetensors'), shard);
    const index = writeIndex(dir, { a: 'model-1.safetensors' });
    await refusedEverywhere(dir, index, 'tensor-not-in-index', index);
    const e = await rejectsWithRule(openCheckpoint(index), 'tensor-not-in-index', index);
    assert.match(e.message, /"stray"/);
  });

  test('mergeShardTensors checks it without any file', () => {
    const index = parseShardIndex('/m/model.safetensors.index.json', JSON.stringify({ weight_map: { a: 's1' } }));
    const bytes = craft({ a: entry('U8', [1], 0, 1), b: entry('U8', [1], 1, 2) }, 2);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = parseHeader('/m/s1', bytes.length, bytes.subarray(8), n);
    throwsWithRule(() => mergeShardTensors(index, [header]), 'tensor-not-in-index', '/m/model.safetensors.index.json');
  });
});

describe('headers built to exhaust the parser are refused (or read) in one linear pass', () => {
  const deep = (levels: number): string => `{"a":${'['.repeat(levels)}${']'.repeat(levels)}}`;

  test('a header nested 3,000,000 levels deep is refused by every command', async () => {
    const dir = caseDir();
    const file = join(dir, 'deep.safetensors');
    writeFileSync(file, craft(deep(3_000_000)));
    await refusedEverywhere(dir, file, 'header-too-deep');
  });

  test('the depth check comes before any parsing: nesting that never closes is too deep too, not merely broken', () => {
    const bytes = craft('['.repeat(2_000_000));
    const n = bytes.length - 8;
    const e = throwsWithRule(() => parseHeader('deep', bytes.length, bytes.subarray(8), n), 'header-too-deep', 'deep');
    assert.match(e.message, /more than 128 levels/);
  });

  test('an unknown field of millions of empty arrays and objects is skipped, not built', async () => {
    const dir = caseDir();
    const file = join(dir, 'wide.safetensors');
    const junk = `[${'[],{},'.repeat(500_000)}[]]`;
    writeFileSync(file, craft(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":${junk}}}`, 1));
    const [r] = await batch([['inspect', file, '--json']]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { tensors: { name: string }[] }).tensors.map((t) => t.name),
      ['a'],
    );
  });

  test('an entry that is millions of arrays, and a shape of a million dimensions, are refused at once', () => {
    const parse = (bytes: Uint8Array) => () =>
      parseHeader('h', bytes.length, bytes.subarray(8), Number(new DataView(bytes.buffer).getBigUint64(0, true)));
    throwsWithRule(parse(craft(`{"a":[${'[],'.repeat(1_000_000)}[]]}`)), 'invalid-entry', 'h');
    throwsWithRule(
      parse(craft(`{"a":{"dtype":"U8","shape":[${'1,'.repeat(1_000_000)}1],"data_offsets":[0,1]}}`, 1)),
      'too-many-dimensions',
      'h',
    );
    const e = throwsWithRule(
      parse(craft(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[${'0,'.repeat(1_000_000)}1]}}`, 1)),
      'invalid-data-offsets',
      'h',
    );
    assert.ok(e.message.length < 400, 'the detail is cut short');
  });

  test('duplicate keys among millions are found, spelled alike or through escapes', () => {
    const keys = Array.from({ length: 300_000 }, (_, i) => `"k${i}":0`);
    assert.equal(checkJsonBytes(new TextEncoder().encode(`{"a":{${keys.join(',')}}}`)), undefined);
    const dup = checkJsonBytes(new TextEncoder().encode(`{"a":{${keys.join(',')},"\\u006b123":1}}`));
    assert.equal(dup?.problem, 'duplicate-key');
    assert.match(dup?.detail ?? '', /"a"\."k123" appears twice/);
  });

  test('keys with lone surrogates are compared exactly (two different ones are not duplicates)', () => {
    assert.equal(parseJsonChecked('{"\ud800":1,"\ud801":2}').ok, true);
    assert.equal(parseJsonChecked('{"\\ud800":1,"\\ud801":2}').ok, true);
    const d = parseJsonChecked('{"\\ud800":1,"\ud800":2}');
    assert.ok(!d.ok && d.problem === 'duplicate-key');
  });

  test('the byte scanner accepts exactly what JSON.parse accepts (seeded random texts)', () => {
    const random = rng(20261201);
    const pieces = [
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"',
      '\\',
      'u',
      '0',
      '1',
      '-',
      '+',
      '.',
      'e',
      'E',
      'true',
      'null',
      ' ',
      '\n',
      'a',
      'é',
      '\u0001',
    ];
    pieces.push('"k"', '"\\u00e9"', '\\"', '\\n', '\\x', '01', '1.', '-0', '1e5', '"a":1', '{"a":[1,2]}', 'tru', '\ud83d\ude00');
    const enc = new TextEncoder();
    let valid = 0;
    for (let t = 0; t < 100_000; t++) {
      let s = '';
      const n = 1 + Math.floor(random() * 10);
      for (let i = 0; i < n; i++) s += pieces[Math.floor(random() * pieces.length)];
      let ok = true;
      try {
        JSON.parse(s);
      } catch {
        ok = false;
      }
      const problem = checkJsonBytes(enc.encode(s));
      assert.equal(problem === undefined || problem.problem !== 'not-json', ok, JSON.stringify(s));
      if (ok) {
        valid++;
        const json = new JsonReader(enc.encode(s));
        assert.equal(json.ws(json.end(json.ws(0))), enc.encode(s).length, JSON.stringify(s));
      }
    }
    assert.ok(valid > 1000);
  });
});

describe('spectra and statistics of values that are not finite, or too large to square', () => {
  test('inspect --spectra skips them with the reason; the statistics count NaN and Inf', async () => {
    const dir = caseDir();
    const file = join(dir, 'nonfinite.safetensors');
    const random = rng(7);
    const bytes = Uint8Array.from({ length: 32 * 32 * 8 }, () => Math.floor(random() * 256));
    writeFileSync(
      file,
      safetensors({
        nan: { dtype: 'F64', shape: [4, 4], data: f64([NaN, Infinity, -Infinity, ...Array(13).fill(1)]) },
        huge: { dtype: 'F64', shape: [4, 4], data: f64(Array.from({ length: 16 }, (_, i) => (i % 2 ? 1e200 : -3e250))) },
        random: { dtype: 'F64', shape: [32, 32], data: bytes },
        fine: { dtype: 'F64', shape: [2, 2], data: f64([3, 0, 0, 4]) },
      }),
    );
    const before = snapshot(dir);
    const [json, text] = await batch([
      ['inspect', file, '--json', '--stats', '--spectra'],
      ['inspect', file, '--stats', '--spectra'],
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stderr, '');
    type T = { name: string; stats: { nanCount: number; infCount: number }; spectrum: { skipped?: string; singularValues?: number[] } };
    const byName = new Map((JSON.parse(json.stdout) as { tensors: T[] }).tensors.map((t) => [t.name, t]));
    assert.match(byName.get('nan')?.spectrum.skipped ?? '', /NaN or Inf/);
    assert.deepEqual([byName.get('nan')?.stats.nanCount, byName.get('nan')?.stats.infCount], [1, 2]);
    assert.match(byName.get('huge')?.spectrum.skipped ?? '', /too large/);
    assert.match(byName.get('random')?.spectrum.skipped ?? '', /NaN or Inf|too large/);
    assert.deepEqual(byName.get('fine')?.spectrum.singularValues, [4, 3]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /huge: .*spectrum: values too large/);
    assert.deepEqual(snapshot(dir), before);
  });

  test('in the engine: a Gram that overflows is a skip with its reason, never an eigen solver error', () => {
    const huge = Float64Array.from({ length: 6 }, (_, i) => (i + 1) * 1e160);
    assert.equal(gramOfMatrix(huge, 2, 3).overflow, true);
    const s = spectrumFromMatrix(huge, 2, 3);
    assert.ok(isSpectrumSkipped(s) && /too large/.test(s.skipped), JSON.stringify(s));
    const nan = spectrumFromMatrix(Float64Array.from([1, NaN, 3, 4]), 2, 2);
    assert.ok(isSpectrumSkipped(nan) && /NaN or Inf/.test(nan.skipped));
    const fine = spectrumFromMatrix(Float64Array.from([1e150, 0, 0, 2e150]), 2, 2);
    assert.ok(!isSpectrumSkipped(fine));
    assert.ok(Math.abs(fine.singularValues[0] / 2e150 - 1) < 1e-12);
  });
});

describe('200,000 empty tensors', () => {
  let file = '';
  before(() => {
    const dir = caseDir();
    file = join(dir, 'empty.safetensors');
    const header: Record<string, object> = {};
    for (let i = 0; i < 200_000; i++) header[`t${i}`] = entry('F32', [0], 0, 0);
    writeFileSync(file, craft(header));
  });

  test('inspect --json --stats: every tensor, with empty statistics', async () => {
    const r = await child(['inspect', file, '--json', '--stats'], LARGE_LIMIT_MS);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const report = JSON.parse(r.stdout) as { tensors: { name: string; params: number; stats: { min: null; histogram: { counts: [] } } }[] };
    assert.equal(report.tensors.length, 200_000);
    assert.deepEqual(report.tensors[199_999].stats.histogram.counts, []);
    assert.equal(report.tensors[0].stats.min, null);
  });

  test('inspect --json --spectra: no spectrum for 1-d tensors, no stack overflow', async () => {
    const r = await child(['inspect', file, '--json', '--spectra'], LARGE_LIMIT_MS);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { tensors: unknown[] }).tensors.length, 200_000);
  });

  test('inspect --spectra as a table', async () => {
    const r = await child(['inspect', file, '--spectra'], LARGE_LIMIT_MS);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tensors {3}200,000/);
  });

  test('statistics of an empty tensor never start a read', async () => {
    let reads = 0;
    const stats = await computeTensorStats(
      () => {
        reads++;
        return (async function* () {})();
      },
      { totalElements: 0 },
    );
    assert.equal(reads, 0);
    assert.deepEqual([stats.count, stats.min, stats.histogram.counts], [0, null, []]);
  });
});

describe('how refusals read', () => {
  test('file system errors: a plain text and a rule, naming the file given', () => {
    const errno = (code: string, p: string) => Object.assign(new Error(`${code}: x, open '${p}'`), { code, syscall: 'open', path: p });
    const given = join(tmp, 'given.safetensors');
    assert.equal(
      toCliError(errno('ELOOP', given), given).message,
      `${given}: symbolic links loop (or nest too deeply) and never reach a file (rule: symlink-loop)`,
    );
    assert.equal(toCliError(errno('ENOENT', given), given).message, `${given}: no such file (rule: file-not-found)`);
    assert.equal(toCliError(errno('ESPIPE', given), given).message, `${given}: file system error (ESPIPE) (rule: file-system-error)`);
    for (const code of ['EACCES', 'EISDIR', 'ENXIO', 'ENOTDIR', 'ENAMETOOLONG', 'EMFILE', 'EIO', 'ENOSPC']) {
      const m = toCliError(errno(code, given), given).message;
      assert.match(m, /^.*given\.safetensors: [a-z].* \(rule: [a-z-]+\)$/, m);
      assert.ok(!m.includes(code), `a text, not the code: ${m}`);
    }
  });

  test('the JSON report written in pieces is byte for byte JSON.stringify', () => {
    const report: InspectReport = {
      file: 'x',
      bytes: 3,
      metadata: { 'k"\n': 'v' },
      tensors: Array.from({ length: 7 }, (_, i) => ({
        name: `t${i}\n"`,
        dtype: 'F32' as const,
        shape: [i, 2],
        offsets: [0, 0] as [number, number],
        params: 0,
        ...(i % 2 ? { statsSkipped: 'why' } : {}),
      })),
    };
    const want = `${JSON.stringify(report, null, 2)}\n`;
    assert.equal([...renderJsonChunks(report, 2)].join(''), want);
    assert.equal([...renderJsonChunks(report, 100)].join(''), want);
    assert.equal(renderJson({ ...report, tensors: [] }), `${JSON.stringify({ ...report, tensors: [] }, null, 2)}\n`);
  });
});
