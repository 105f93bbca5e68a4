// Hostile and inconsistent recast files: each is refused by `rebuild`, `metrics`, `metrics --source`
// (the real CLI, in a child process) and by the dashboard's load, with exit status 2 and exactly one
// line naming the bad file and the rule; nothing is written (no output, no temporary file, nothing
// on stdout) and the file is left as it was. One valid export of the real GPT-2 is made once, and
// every case is a copy of it rewritten by the engine's safetensors writer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { openCheckpoint } from '../../src/mimicry/safetensors/reader';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import type { TensorToWrite } from '../../src/mimicry/safetensors/types';
import { EngineError } from '../../src/mimicry/errors';
import { exportRecast } from '../../src/mimicry/recast/export';
import type { RecastFormatRule } from '../../src/mimicry/recast/errors';
import { dashboardFromRecast } from '../../src/mimicry/dashboard/fromRecast';
import { bundleCli } from './helpers/cli-bundle';
import { withCheckpoint } from './helpers/temp-dir';

const GPT2 = 'test/fixtures/real/capp-gpt2-4layer.safetensors';
const OTHER = 'test/fixtures/real/tinygrad-mnist-cnn.safetensors';
/** The CLI bundled into this test's own folder (set in before()). */
let CLI = '';
/** Generous: a hang fails the test, nothing here measures time. */
const SPAWN_TIMEOUT_MS = 180_000;

interface Contents {
  meta: Record<string, string>;
  tensors: Map<string, TensorToWrite>;
}

let root = '';
let valid = '';
let original: Contents;

/** Every tensor and the metadata of a file, as owned copies. */
async function load(file: string): Promise<Contents> {
  return withCheckpoint(file, async (ck) => {
    const tensors = new Map<string, TensorToWrite>();
    for (const t of ck.tensors)
      tensors.set(t.name, { name: t.name, dtype: t.dtype, shape: [...t.shape], data: (await ck.readBytes(t)).slice() });
    return { meta: { ...ck.metadata }, tensors };
  });
}

const clone = (c: Contents): Contents => ({
  meta: { ...c.meta },
  tensors: new Map([...c.tensors].map(([k, t]) => [k, { ...t, shape: [...t.shape], data: t.data.slice() }])),
});

function edit<T = Record<string, unknown>>(c: Contents, key: string, fn: (d: T) => void): void {
  const d = JSON.parse(c.meta[key]) as T;
  fn(d);
  c.meta[key] = JSON.stringify(d);
}
const floats = (t: TensorToWrite) => new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
const coefficientNames = (c: Contents) => [...c.tensors.keys()].filter((n) => n.startsWith('recast.coefficients.')).sort();
const templateNames = (c: Contents) => [...c.tensors.keys()].filter((n) => n.startsWith('recast.templates.')).sort();
type Layers = { layers: Record<string, unknown>[] };

interface Case {
  readonly name: string;
  readonly rule: RecastFormatRule;
  /** Text the one line must also hold (the key path, the tensor...). */
  readonly detail?: RegExp;
  readonly mutate: (c: Contents) => void;
  /** Commands that accept the file (a well-formed but wrong source hash is only seen with --source). */
  readonly accepted?: readonly ('rebuild' | 'metrics' | 'dashboard')[];
}

const CASES: Case[] = [
  // 1. recast.metrics that is not JSON, or JSON of the wrong shape
  {
    name: 'metrics-not-json',
    rule: 'metadata-not-json',
    detail: /recast\.metrics/,
    mutate: (c) => (c.meta['recast.metrics'] = '{"layers": ['),
  },
  {
    name: 'metrics-array',
    rule: 'metadata-invalid',
    detail: /recast\.metrics: expected an object, got an array/,
    mutate: (c) => (c.meta['recast.metrics'] = '[]'),
  },
  {
    name: 'metrics-string',
    rule: 'metadata-invalid',
    detail: /recast\.metrics: expected an object/,
    mutate: (c) => (c.meta['recast.metrics'] = '"x"'),
  },
  {
    name: 'metrics-null',
    rule: 'metadata-invalid',
    detail: /recast\.metrics: expected an object, got null/,
    mutate: (c) => (c.meta['recast.metrics'] = 'null'),
  },
  {
    name: 'metrics-layers-string',
    rule: 'metadata-invalid',
    detail: /recast\.metrics\.layers: expected an array/,
    mutate: (c) => (c.meta['recast.metrics'] = '{"layers":"x"}'),
  },
  {
    name: 'metrics-null-layer',
    rule: 'metadata-invalid',
    detail: /recast\.metrics\.layers\[3\]: expected an object, got null/,
    mutate: (c) => edit<Layers>(c, 'recast.metrics', (d) => (d.layers[3] = null as never)),
  },
  {
    name: 'metrics-null-bank',
    rule: 'metadata-invalid',
    detail: /recast\.metrics\.banks\[1\]: expected an object, got null/,
    mutate: (c) => edit<{ banks: unknown[] }>(c, 'recast.metrics', (d) => (d.banks[1] = null)),
  },
  {
    name: 'metrics-proto-key',
    rule: 'metadata-invalid',
    detail: /__proto__/,
    mutate: (c) => (c.meta['recast.metrics'] = `{"__proto__":{"polluted":"yes"},${c.meta['recast.metrics'].slice(1)}`),
  },
  {
    name: 'metrics-proto-key-nested',
    rule: 'metadata-invalid',
    detail: /recast\.metrics\.summary\["__proto__"\]/,
    mutate: (c) =>
      (c.meta['recast.metrics'] = c.meta['recast.metrics'].replace('"summary":{', '"summary":{"__proto__":{"polluted":"yes"},')),
  },
  {
    name: 'metrics-1e400',
    rule: 'metadata-invalid',
    detail: /recast\.metrics\.layers\[0\]\.cosine: expected a finite number or null, got Infinity/,
    mutate: (c) => {
      edit<Layers>(c, 'recast.metrics', (d) => (d.layers[0].cosine = '@BIG@'));
      c.meta['recast.metrics'] = c.meta['recast.metrics'].replace('"@BIG@"', '1e400');
    },
  },
  {
    name: 'metrics-string-cosine',
    rule: 'metadata-invalid',
    detail: /recast\.metrics\.layers\[3\]\.cosine: expected a finite number or null, got a string "0\.99"/,
    mutate: (c) => edit<Layers>(c, 'recast.metrics', (d) => (d.layers[3].cosine = '0.99')),
  },
  {
    name: 'metrics-string-count',
    rule: 'metadata-invalid',
    detail: /recast\.metrics\.summary\.parameters\.before/,
    mutate: (c) =>
      edit<{ summary: { parameters: { before: unknown } } }>(c, 'recast.metrics', (d) => (d.summary.parameters.before = '100')),
  },
  {
    name: 'metrics-duplicate-key',
    rule: 'metadata-invalid',
    detail: /recast\.metrics: .*"layers"/,
    mutate: (c) => (c.meta['recast.metrics'] = `{"layers":"x",${c.meta['recast.metrics'].slice(1)}`),
  },
  { name: 'metrics-missing', rule: 'metadata-missing', detail: /recast\.metrics/, mutate: (c) => delete c.meta['recast.metrics'] },
  {
    name: 'metrics-other-bank',
    rule: 'metadata-inconsistent',
    detail: /recast\.metrics\.banks\[0\]\.name/,
    mutate: (c) => edit<{ banks: { name: string }[] }>(c, 'recast.metrics', (d) => (d.banks[0].name = 'other.g0')),
  },
  {
    name: 'metrics-layer-count',
    rule: 'metadata-inconsistent',
    detail: /recast\.metrics\.layers has 7 entries/,
    mutate: (c) => edit<Layers>(c, 'recast.metrics', (d) => d.layers.pop()),
  },
  // every other key of the schema
  { name: 'banks-not-json', rule: 'metadata-not-json', detail: /recast\.banks/, mutate: (c) => (c.meta['recast.banks'] = '{') },
  {
    name: 'banks-array',
    rule: 'metadata-invalid',
    detail: /recast\.banks: expected an object/,
    mutate: (c) => (c.meta['recast.banks'] = '[]'),
  },
  {
    name: 'banks-proto-key',
    rule: 'metadata-invalid',
    detail: /recast\.banks\["__proto__"\]/,
    mutate: (c) =>
      (c.meta['recast.banks'] =
        `{"__proto__":{"members":["a"],"shape":[1,1],"templates":1,"source_dtype":"F32"},${c.meta['recast.banks'].slice(1)}`),
  },
  {
    name: 'banks-member-number',
    rule: 'metadata-invalid',
    detail: /recast\.banks\["[^"]+"\]\.members\[0\]: expected a string, got the number 5/,
    mutate: (c) => edit<Record<string, { members: unknown[] }>>(c, 'recast.banks', (d) => (Object.values(d)[0].members[0] = 5)),
  },
  {
    name: 'banks-member-reserved',
    rule: 'metadata-invalid',
    detail: /__metadata__/,
    mutate: (c) => {
      let was = '';
      edit<Record<string, { members: string[] }>>(c, 'recast.banks', (d) => {
        const b = Object.values(d)[0];
        was = b.members[0];
        b.members[0] = '__metadata__';
      });
      const t = c.tensors.get(`recast.coefficients.${was}`) as TensorToWrite;
      c.tensors.delete(t.name);
      c.tensors.set('recast.coefficients.__metadata__', { ...t, name: 'recast.coefficients.__metadata__' });
    },
  },
  {
    name: 'banks-templates-string',
    rule: 'metadata-invalid',
    detail: /\.templates: expected an integer >= 1, got a string "2"/,
    mutate: (c) => edit<Record<string, { templates: unknown }>>(c, 'recast.banks', (d) => (Object.values(d)[0].templates = '2')),
  },
  {
    name: 'banks-shape-fraction',
    rule: 'metadata-invalid',
    detail: /\.shape\[1\]: expected an integer >= 0, got the number 1\.5/,
    mutate: (c) => edit<Record<string, { shape: number[] }>>(c, 'recast.banks', (d) => (Object.values(d)[0].shape[1] = 1.5)),
  },
  {
    name: 'banks-dtype',
    rule: 'metadata-invalid',
    detail: /\.source_dtype: expected one of "F32", "F16", "BF16", got a string "I8"/,
    mutate: (c) => edit<Record<string, { source_dtype: string }>>(c, 'recast.banks', (d) => (Object.values(d)[0].source_dtype = 'I8')),
  },
  {
    name: 'banks-bad-name',
    rule: 'metadata-invalid',
    detail: /must match/,
    mutate: (c) => (c.meta['recast.banks'] = c.meta['recast.banks'].replace(/^\{"([^"]+)"/, '{"bad name/$1"')),
  },
  {
    name: 'sets-1e9',
    rule: 'metadata-invalid',
    detail: /recast\.coefficient_sets: expected a positive decimal integer, got a string "1e9"/,
    mutate: (c) => (c.meta['recast.coefficient_sets'] = '1e9'),
  },
  {
    name: 'sets-fraction',
    rule: 'metadata-invalid',
    detail: /recast\.coefficient_sets/,
    mutate: (c) => (c.meta['recast.coefficient_sets'] = '2.0'),
  },
  {
    name: 'sets-zero',
    rule: 'metadata-invalid',
    detail: /recast\.coefficient_sets/,
    mutate: (c) => (c.meta['recast.coefficient_sets'] = '0'),
  },
  {
    name: 'sets-missing',
    rule: 'metadata-missing',
    detail: /recast\.coefficient_sets/,
    mutate: (c) => delete c.meta['recast.coefficient_sets'],
  },
  {
    name: 'sets-3-method-2',
    rule: 'metadata-inconsistent',
    detail: /recast\.method\.K is 2, recast\.coefficient_sets is 3/,
    mutate: (c) => (c.meta['recast.coefficient_sets'] = '3'),
  },
  {
    name: 'sets-3-tensors-2',
    rule: 'tensor-invalid',
    detail: /recast\.coefficients\.\S+ must be F32 \[3, 2\].*is F32 \[2, 2\]/,
    mutate: (c) => {
      c.meta['recast.coefficient_sets'] = '3';
      edit(c, 'recast.method', (d) => (d.K = 3));
    },
  },
  {
    name: 'coefficients-3-rows',
    rule: 'tensor-invalid',
    detail: /must be F32 \[2, 2\].*is F32 \[3, 2\]/,
    mutate: (c) => {
      const t = c.tensors.get(coefficientNames(c)[5]) as TensorToWrite;
      c.tensors.set(t.name, { ...t, shape: [3, 2], data: new Uint8Array(24) });
    },
  },
  {
    name: 'template-f16',
    rule: 'tensor-invalid',
    detail: /recast\.templates\.\S+ must be F32/,
    mutate: (c) => {
      const t = c.tensors.get(templateNames(c)[0]) as TensorToWrite;
      c.tensors.set(t.name, { ...t, dtype: 'F16', data: t.data.slice(0, t.data.byteLength / 2) });
    },
  },
  { name: 'template-missing', rule: 'tensor-invalid', detail: /is missing/, mutate: (c) => c.tensors.delete(templateNames(c)[1]) },
  {
    name: 'stray-template',
    rule: 'tensor-stray',
    detail: /recast\.templates\.ghost\.g0/,
    mutate: (c) =>
      c.tensors.set('recast.templates.ghost.g0', {
        name: 'recast.templates.ghost.g0',
        dtype: 'F32',
        shape: [2, 2, 2],
        data: new Uint8Array(32),
      }),
  },
  {
    name: 'stray-coefficients',
    rule: 'tensor-stray',
    detail: /recast\.coefficients\.ghost\.weight/,
    mutate: (c) =>
      c.tensors.set('recast.coefficients.ghost.weight', {
        name: 'recast.coefficients.ghost.weight',
        dtype: 'F32',
        shape: [2, 2],
        data: new Uint8Array(16),
      }),
  },
  {
    name: 'member-also-copied',
    rule: 'tensor-conflict',
    detail: /a member of bank .* and a copied tensor/,
    mutate: (c) => {
      const member = coefficientNames(c)[0].slice('recast.coefficients.'.length);
      c.tensors.set(member, { name: member, dtype: 'F32', shape: [1], data: new Uint8Array(4) });
    },
  },
  {
    name: 'source-sha-format',
    rule: 'metadata-invalid',
    detail: /recast\.source\.sha256: expected a SHA-256/,
    mutate: (c) => edit(c, 'recast.source', (d) => (d.sha256 = 'ABC')),
  },
  {
    name: 'source-sha-uppercase',
    rule: 'metadata-invalid',
    detail: /recast\.source\.sha256/,
    mutate: (c) => edit(c, 'recast.source', (d) => (d.sha256 = String(d.sha256).toUpperCase())),
  },
  {
    name: 'source-file-path',
    rule: 'metadata-invalid',
    detail: /recast\.source\.file: expected a base name/,
    mutate: (c) => edit(c, 'recast.source', (d) => (d.file = '../../etc/gpt2.safetensors')),
  },
  {
    name: 'source-file-windows',
    rule: 'metadata-invalid',
    detail: /recast\.source\.file/,
    mutate: (c) => edit(c, 'recast.source', (d) => (d.file = 'C:\\models\\gpt2.safetensors')),
  },
  {
    name: 'source-bytes-negative',
    rule: 'metadata-invalid',
    detail: /recast\.source\.bytes/,
    mutate: (c) => edit(c, 'recast.source', (d) => (d.bytes = -1)),
  },
  {
    name: 'source-sha-other',
    rule: 'source-mismatch',
    detail: /recast\.source is capp-gpt2-4layer\.safetensors, 949792 bytes, sha256 0{64}/,
    mutate: (c) => edit(c, 'recast.source', (d) => (d.sha256 = '0'.repeat(64))),
    accepted: ['rebuild', 'metrics', 'dashboard'],
  },
  { name: 'method-not-json', rule: 'metadata-not-json', detail: /recast\.method/, mutate: (c) => (c.meta['recast.method'] = 'spectral') },
  {
    name: 'method-K-string',
    rule: 'metadata-invalid',
    detail: /recast\.method\.K: expected an integer >= 1, got a string "2"/,
    mutate: (c) => edit(c, 'recast.method', (d) => (d.K = '2')),
  },
  {
    name: 'method-unknown',
    rule: 'metadata-invalid',
    detail: /recast\.method\.method: expected one of/,
    mutate: (c) => edit(c, 'recast.method', (d) => (d.method = 'magic')),
  },
  {
    name: 'method-grouping-null',
    rule: 'metadata-invalid',
    detail: /recast\.method\.grouping: expected an object, got null/,
    mutate: (c) => edit(c, 'recast.method', (d) => (d.grouping = null)),
  },
  {
    name: 'source-metadata-number',
    rule: 'metadata-invalid',
    detail: /recast\.source_metadata\["format"\]: expected a string, got the number 1/,
    mutate: (c) => (c.meta['recast.source_metadata'] = '{"format":1}'),
  },
  {
    name: 'source-metadata-not-json',
    rule: 'metadata-not-json',
    detail: /recast\.source_metadata/,
    mutate: (c) => (c.meta['recast.source_metadata'] = "{'a': 'b'}"),
  },
  { name: 'format-other', rule: 'not-recast', mutate: (c) => (c.meta.format = 'pt') },
  { name: 'version-2', rule: 'unsupported-recast-version', mutate: (c) => (c.meta['recast.version'] = '2') },
  // 2. NaN and infinity, found as the values are read: late in the file, so rebuild fails mid-way
  {
    name: 'template-nan',
    rule: 'tensor-non-finite',
    detail: /recast\.templates\.\S+ holds NaN at element \d+/,
    mutate: (c) => {
      const t = c.tensors.get(templateNames(c).at(-1) as string) as TensorToWrite;
      const f = floats(t);
      f[f.length - 1] = Number.NaN;
    },
  },
  {
    name: 'template-inf',
    rule: 'tensor-non-finite',
    detail: /holds Infinity at element 0/,
    mutate: (c) => (floats(c.tensors.get(templateNames(c)[0]) as TensorToWrite)[0] = Infinity),
  },
  {
    name: 'coefficients-minus-inf',
    rule: 'tensor-non-finite',
    detail: /recast\.coefficients\.\S+ holds -Infinity at element 3/,
    mutate: (c) => (floats(c.tensors.get(coefficientNames(c).at(-1) as string) as TensorToWrite)[3] = -Infinity),
  },
];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'hostile-recast-'));
  CLI = await bundleCli(root);
  valid = join(root, 'valid.recast.safetensors');
  await withCheckpoint(GPT2, (ck) =>
    exportRecast(ck, { modules: ['mlp.c_fc', 'attn.c_proj'], blocksPerGroup: 4, templates: 2, sets: 2, probes: 2 }, { out: valid }),
  );
  original = await load(valid);
});
after(() => rmSync(root, { recursive: true, force: true }));

interface Ran {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { timeout: SPAWN_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Exit 2, nothing on stdout, one line on stderr naming `file` and the rule (and `detail`). */
function assertRefused(r: Ran, file: string, rule: string, detail: RegExp | undefined, what: string): void {
  assert.equal(r.signal, null, `${what}: killed by ${r.signal} (hang?)`);
  assert.equal(r.code, 2, `${what}: status ${r.code}\n${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: wrote to stdout`);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `${what}: one line on stderr, got:\n${r.stderr}`);
  assert.equal(lines[1], '');
  assert.match(lines[0], new RegExp(`^mimicry: ${escape(file)}: .*\\(rule: ${escape(rule)}\\)$`), what);
  if (detail) assert.match(lines[0], detail, what);
}

test(
  'every hostile or inconsistent recast file is refused by rebuild, metrics, metrics --source and the dashboard',
  { concurrency: 2 },
  async (t) => {
    await Promise.all(
      CASES.map((c) =>
        t.test(c.name, async () => {
          const dir = join(root, c.name);
          mkdirSync(dir);
          const bad = join(dir, `${c.name}.recast.safetensors`);
          const contents = clone(original);
          c.mutate(contents);
          await writeSafetensors(bad, [...contents.tensors.values()], contents.meta);
          const before = sha(bad);
          const out = join(dir, 'dense.safetensors');
          const accepted = new Set(c.accepted ?? []);

          const rb = await cli(['rebuild', bad, '--out', out]);
          if (accepted.has('rebuild')) {
            assert.equal(rb.code, 0, rb.stderr);
            rmSync(out);
          } else {
            assertRefused(rb, bad, c.rule, c.detail, `rebuild ${c.name}`);
            assert.ok(!rb.stderr.includes(out), 'the line names the input, not the output');
          }
          assert.deepEqual(readdirSync(dir), [basename(bad)], 'no output and no temporary file');

          const m = await cli(['metrics', bad]);
          if (accepted.has('metrics')) assert.equal(m.code, 0, m.stderr);
          else assertRefused(m, bad, c.rule, c.detail, `metrics ${c.name}`);

          const ms = await cli(['metrics', bad, '--source', GPT2]);
          assertRefused(ms, bad, c.rule, c.detail, `metrics --source ${c.name}`);

          const ck = await openCheckpoint(bad);
          try {
            const load = dashboardFromRecast(ck, 64);
            if (accepted.has('dashboard')) await load;
            else
              await assert.rejects(load, (e: unknown) => {
                assert.ok(e instanceof EngineError, `dashboard ${c.name}: ${String(e)}`);
                assert.equal(e.rule, c.rule);
                assert.equal(e.file, ck.path);
                if (c.detail) assert.match(e.detail ?? '', c.detail);
                return true;
              });
          } finally {
            await ck.close();
          }
          // nothing polluted, nothing written, the file untouched
          assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
          assert.deepEqual(readdirSync(dir), [basename(bad)]);
          assert.equal(sha(bad), before);
        }),
      ),
    );
  },
);

test('the valid export passes: rebuild, metrics, metrics --source, dashboard', async () => {
  const dir = join(root, 'valid');
  mkdirSync(dir);
  const out = join(dir, 'dense.safetensors');
  const rb = await cli(['rebuild', valid, '--out', out]);
  assert.equal(rb.code, 0, rb.stderr);
  assert.match(rb.stdout, /8 tensors rebuilt from templates, 44 copied/);
  const m = await cli(['metrics', valid, '--source', GPT2, '--json']);
  assert.equal(m.code, 0, m.stderr);
  const d = JSON.parse(m.stdout) as { metrics: { layers: { cosine: number }[] }; recomputed: unknown[] };
  assert.equal(d.metrics.layers.length, 8);
  assert.equal(d.recomputed.length, 8);
  const data = await withCheckpoint(valid, (ck) => dashboardFromRecast(ck, 64));
  assert.equal(data.layers.length, 8);
  assert.equal(data.banks.length, 2);
});

test('metrics --source with another checkpoint: the source differs, named with the recast file', async () => {
  const r = await cli(['metrics', valid, '--source', OTHER]);
  assertRefused(
    r,
    valid,
    'source-mismatch',
    /--source .*tinygrad-mnist-cnn\.safetensors: it is tinygrad-mnist-cnn\.safetensors, \d+ bytes, sha256 [0-9a-f]{64}; recast\.source is capp-gpt2-4layer\.safetensors/,
    'metrics --source OTHER',
  );
});

test('a source metadata key "__proto__" is data: kept as a key, and rebuilt into the dense file', async () => {
  const dir = join(root, 'proto-source-metadata');
  mkdirSync(dir);
  const file = join(dir, 'p.recast.safetensors');
  const c = clone(original);
  c.meta['recast.source_metadata'] = '{"__proto__":"x","format":"pt"}';
  await writeSafetensors(file, [...c.tensors.values()], c.meta);
  const out = join(dir, 'dense.safetensors');
  const rb = await cli(['rebuild', file, '--out', out]);
  assert.equal(rb.code, 0, rb.stderr);
  const dense = await withCheckpoint(out, (ck) => Promise.resolve(ck.metadata));
  assert.deepEqual(Object.entries(dense), [
    ['__proto__', 'x'],
    ['format', 'pt'],
  ]);
  assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
});

test("stored nulls (the writer's NaN) read back as NaN, not as a refusal", async () => {
  const dir = join(root, 'null-metrics');
  mkdirSync(dir);
  const file = join(dir, 'n.recast.safetensors');
  const c = clone(original);
  edit<{ layers: { cosine: unknown }[]; banks: { loss: unknown }[] }>(c, 'recast.metrics', (d) => {
    d.layers[0].cosine = null;
    d.banks[0].loss = null;
  });
  await writeSafetensors(file, [...c.tensors.values()], c.meta);
  const m = await cli(['metrics', file]);
  assert.equal(m.code, 0, m.stderr);
  const data = await withCheckpoint(file, (ck) => dashboardFromRecast(ck, 64));
  assert.ok(Number.isNaN(data.layers[0].cosine));
  assert.equal(data.banks[0].loss, null);
});
