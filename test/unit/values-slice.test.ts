// The values view's engine (safetensors/slice.ts): pages of a 2-D slice read with ranged reads of
// the shown rows only, each value as the shortest text that reads back in the tensor's own dtype
// (BF16 and F16 from hand-derived bit patterns; numpy's shortest repr for F16 and F32), against
// numpy's own slicing of the file, CSV and numpy literals, and clear errors for bad indices and a
// file cut short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import {
  bf16BitsToNumber,
  encodeBF16,
  encodeF16,
  encodeF32,
  f16BitsToNumber,
  numberToBF16Bits,
  numberToF16Bits,
} from '../../src/mimicry/safetensors/dtypes';
import { SafetensorsError } from '../../src/mimicry/safetensors/errors';
import { floatText, formatValues, readValuesPage, sliceShape, type SliceRequest } from '../../src/mimicry/safetensors/slice';
import type { Checkpoint, TensorToWrite } from '../../src/mimicry/safetensors/types';
import { writeSafetensors } from '../../src/mimicry/safetensors/writer';
import { inTempDir, withCheckpoint } from './helpers/temp-dir';
import { rng } from './helpers/rng';

const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const REAL_GPT2 = join(__dirname, '..', 'fixtures', 'real', 'capp-gpt2-4layer.safetensors');

const u16 = (bits: number[]): Uint8Array => new Uint8Array(Uint16Array.from(bits).buffer);

test('BF16 and F16 bit patterns decode exactly and print as the shortest text that reads back to the same bits', () => {
  // BF16: sign, 8 exponent bits, 7 mantissa bits. 0x3f80 = 1; 0x3dcd = 0.10009765625 (the BF16 nearest 0.1);
  // 0xc2f7 = -(1 + 0x77/128) * 2^6 = -123.5; 0x0001 = 2^-133 (the least subnormal); 0x7f7f = (2 - 2^-7) * 2^127.
  const bf = [0x3f80, 0x3dcd, 0xc2f7, 0x0001, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x7f7f];
  assert.deepEqual(bf.map(bf16BitsToNumber), [1, 0.10009765625, -123.5, 2 ** -133, -0, Infinity, -Infinity, NaN, (2 - 2 ** -7) * 2 ** 127]);
  assert.deepEqual(formatValues('BF16', u16(bf)), ['1', '0.1', '-123.5', '9e-41', '-0', 'inf', '-inf', 'nan', '3.39e+38']);
  // F16: sign, 5 exponent bits, 10 mantissa bits. 0x3555 = 0x555/1024 * 2^-1 + 2^-2... = 0.333251953125;
  // 0x0001 = 2^-24; 0x7bff = 65504 (the largest: 65500 reads back to it); 0xc500 = -5; 0x3c01 = 1 + 2^-10.
  const f16 = [0x3c00, 0x3555, 0x0001, 0x7bff, 0xc500, 0x3c01, 0x7c00, 0xfe00];
  assert.deepEqual(f16.map(f16BitsToNumber), [1, 0.333251953125, 2 ** -24, 65504, -5, 1 + 2 ** -10, Infinity, NaN]);
  assert.deepEqual(formatValues('F16', u16(f16)), ['1', '0.3333', '6e-8', '65500', '-5', '1.001', 'inf', 'nan']);
  // Integers as integers, I64 exact past 2^53; BOOL as True/False.
  const i64 = new Uint8Array(BigInt64Array.from([9007199254740993n, -5n]).buffer);
  assert.deepEqual(formatValues('I64', i64), ['9007199254740993', '-5']);
  assert.deepEqual(formatValues('BOOL', Uint8Array.from([1, 0])), ['True', 'False']);
  assert.deepEqual(formatValues('I8', Uint8Array.from([0xff, 0x7f])), ['-1', '127']);
});

/** Significant digits of a decimal text. */
function digits(text: string): number {
  return text.replace(/e.*$/, '').replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '').length;
}

test('F16 and F32 text: what numpy prints (its shortest repr), for 2,000 random values each', (t) => {
  if (!HAS_NUMPY) return t.skip('python3 with numpy is not available');
  const rand = rng(4);
  const x = Array.from({ length: 2000 }, (_, i) => (rand() - 0.5) * 10 ** ((i % 12) - 8));
  const py = `
import json, sys
import numpy as np
x = np.array(json.load(sys.stdin))
print(json.dumps({'f16': [float(v) for v in x.astype(np.float16)], 'f16s': [np.format_float_positional(v, unique=True, trim='-') for v in x.astype(np.float16)],
                  'f32s': [np.format_float_positional(v, unique=True, trim='-') for v in x.astype(np.float32)]}))`;
  const r = spawnSync('python3', ['-c', py], { input: JSON.stringify(x), maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, r.stderr.toString());
  const ref = JSON.parse(r.stdout.toString()) as { f16: number[]; f16s: string[]; f32s: string[] };
  const f16 = formatValues('F16', encodeF16(x));
  const f32 = formatValues('F32', encodeF32(x));
  for (let i = 0; i < x.length; i++) {
    // Reads back to numpy's value, in no more digits than numpy's shortest text (a tie such as F16's
    // 479.25 may print as 479.2 or 479.3: both are shortest).
    assert.equal(f16BitsToNumber(numberToF16Bits(Number(f16[i]))), ref.f16[i], `F16 ${x[i]}: ${f16[i]}`);
    assert.equal(Math.fround(Number(f32[i])), Math.fround(Number(ref.f32s[i])), `F32 ${x[i]}: ${f32[i]} vs numpy ${ref.f32s[i]}`);
    assert.ok(digits(f16[i]) <= digits(ref.f16s[i]), `F16 ${x[i]}: ${f16[i]} vs numpy ${ref.f16s[i]}`);
    assert.ok(digits(f32[i]) <= digits(ref.f32s[i]), `F32 ${x[i]}: ${f32[i]} vs numpy ${ref.f32s[i]}`);
  }
  assert.equal(floatText(0.1, 'F64'), '0.1');
});

/** x[lead][r0:r0+rows, c0:c0+cols] as numpy reads it from the file: float64 values, or strings for I64. */
function numpySlice(file: string, name: string, req: SliceRequest): (number | string | null)[][] {
  const py = `
import json, struct, sys
import numpy as np
file, name, req = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
raw = open(file, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
spec = json.loads(raw[8:8 + n])[name]
a, b = spec['data_offsets']
buf = raw[8 + n + a: 8 + n + b]
dt = spec['dtype']
if dt == 'BF16': x = (np.frombuffer(buf, '<u2').astype(np.uint32) << 16).view(np.float32)
else: x = np.frombuffer(buf, {'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'BOOL': '?'}[dt])
shape = spec['shape']
x = x.reshape(shape if len(shape) >= 2 else ([shape[0], 1] if shape else [1, 1]))
for i in req['lead']: x = x[i]
page = x[req['row']:req['row'] + req['rows'], req['col']:req['col'] + req['cols']]
out = [[str(v) if dt == 'I64' else (None if not np.isfinite(v) else float(v)) for v in row] for row in page]
print(json.dumps(out))`;
  const r = spawnSync('python3', ['-c', py, file, name, JSON.stringify(req)]);
  assert.equal(r.status, 0, r.stderr.toString());
  return JSON.parse(r.stdout.toString()) as (number | string | null)[][];
}

/** The value a text reads back as in `dtype`. */
function readBack(dtype: string, text: string): number {
  const x = Number(text);
  if (dtype === 'F16') return f16BitsToNumber(numberToF16Bits(x));
  if (dtype === 'BF16') return bf16BitsToNumber(numberToBF16Bits(x));
  return dtype === 'F32' ? Math.fround(x) : x;
}

/** Counts the bytes a checkpoint reads. */
function countReads(ck: Checkpoint): { bytes: number; calls: number } {
  const seen = { bytes: 0, calls: 0 };
  const read = ck.readBytes.bind(ck);
  ck.readBytes = (t, start = 0, end = t.bytes, into) => {
    seen.calls++;
    seen.bytes += end - start;
    return read(t, start, end, into);
  };
  return seen;
}

test('pages of 2-D slices match numpy on the file, read with ranged reads of the shown rows only', async (t) => {
  if (!HAS_NUMPY) return t.skip('python3 with numpy is not available');
  const rand = rng(11);
  const normal = (n: number): number[] => Array.from({ length: n }, () => (rand() - 0.5) * 8);
  const wide = normal(3 * 5 * 700);
  wide[700 + 3] = NaN;
  wide[2 * 3500 + 1401] = -Infinity;
  await inTempDir(async (dir) => {
    const file = join(dir, 'values.safetensors');
    const tensors: TensorToWrite[] = [
      { name: 'f16.rank3', dtype: 'F16', shape: [3, 5, 700], data: encodeF16(wide) },
      { name: 'bf16.matrix', dtype: 'BF16', shape: [40, 30], data: encodeBF16(normal(1200)) },
      { name: 'f32.vector', dtype: 'F32', shape: [100], data: encodeF32(normal(100)) },
      { name: 'f32.scalar', dtype: 'F32', shape: [], data: encodeF32([2.5]) },
      {
        name: 'i64.big',
        dtype: 'I64',
        shape: [2, 3],
        data: new Uint8Array(BigInt64Array.from([2n ** 60n + 1n, -7n, 0n, 1n, -(2n ** 62n), 5n]).buffer),
      },
      { name: 'bool', dtype: 'BOOL', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) },
    ];
    await writeSafetensors(file, tensors);
    const cases: [string, SliceRequest][] = [
      ['f16.rank3', { lead: [1], row: 0, col: 0, rows: 5, cols: 12 }],
      ['f16.rank3', { lead: [2], row: 1, col: 1395 % 700, rows: 3, cols: 8 }],
      ['f16.rank3', { lead: [0], row: 3, col: 695, rows: 10, cols: 10 }], // clipped at the slice's end
      ['bf16.matrix', { lead: [], row: 32, col: 0, rows: 16, cols: 30 }],
      ['f32.vector', { lead: [], row: 90, col: 0, rows: 32, cols: 1 }],
      ['f32.scalar', { lead: [], row: 0, col: 0, rows: 32, cols: 12 }],
      ['i64.big', { lead: [], row: 0, col: 0, rows: 2, cols: 3 }],
      ['bool', { lead: [], row: 0, col: 0, rows: 2, cols: 2 }],
    ];
    await withCheckpoint(file, async (ck) => {
      const reads = countReads(ck);
      for (const [name, req] of cases) {
        const info = ck.tensor(name);
        assert.ok(info);
        reads.bytes = 0;
        const page = await readValuesPage(ck, info, req);
        const ref = numpySlice(file, name, req);
        assert.equal(page.cells.length, ref.length, name);
        const size = info.bytes / Math.max(1, info.params);
        // Only the shown rows: at most one slice row's worth more than the page (the gaps between its rows).
        assert.ok(reads.bytes <= (page.cells.length * sliceShape(info.shape).cols + 1) * size, `${name}: ${reads.bytes} bytes read`);
        page.cells.forEach((row, r) =>
          row.forEach((cell, c) => {
            const want = ref[r][c];
            if (info.dtype === 'I64') assert.equal(cell, want);
            else if (info.dtype === 'BOOL') assert.equal(cell, want ? 'True' : 'False');
            else if (want === null) assert.match(cell, /^(nan|-?inf)$/);
            else assert.equal(readBack(info.dtype, cell), want, `${name}[${r}][${c}]: ${cell}`);
          }),
        );
      }
      assert.deepEqual((await readValuesPage(ck, ck.tensor('f32.scalar')!, { lead: [], row: 0, col: 0, rows: 4, cols: 4 })).cells, [
        ['2.5'],
      ]);
    });
  });
});

test('the real GPT-2 fixture: a page of a weight, CSV and numpy literal read back by numpy as the same values', async (t) => {
  if (!HAS_NUMPY) return t.skip('python3 with numpy is not available');
  await withCheckpoint(REAL_GPT2, async (ck) => {
    const info = ck.tensor('transformer.h.0.attn.c_attn.weight');
    assert.ok(info);
    const req = { lead: [], row: 8, col: 100, rows: 4, cols: 5 };
    const page = await readValuesPage(ck, info, req);
    assert.deepEqual([page.sliceRows, page.sliceCols, page.cells.length, page.cells[0].length], [info.shape[0], info.shape[1], 4, 5]);
    const ref = numpySlice(REAL_GPT2, info.name, req);
    page.cells.forEach((row, r) => row.forEach((cell, c) => assert.equal(Math.fround(Number(cell)), ref[r][c])));
    const py = `
import io, json, sys
import numpy as np
lit, csv = sys.argv[1], sys.argv[2]
a = eval(lit)
b = np.loadtxt(io.StringIO(csv), delimiter=',', dtype=np.float32, ndmin=2)
print(json.dumps({'dtype': str(a.dtype), 'a': a.astype(np.float64).tolist(), 'same': bool((a == b).all())}))`;
    const r = spawnSync('python3', ['-c', py, page.numpy, page.csv]);
    assert.equal(r.status, 0, r.stderr.toString());
    const back = JSON.parse(r.stdout.toString()) as { dtype: string; a: number[][]; same: boolean };
    assert.equal(back.dtype, 'float32');
    assert.deepEqual(back.a, ref);
    assert.ok(back.same);
  });
});

test('bad requests and a file cut short: clear errors naming the file and the rule', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'bad.safetensors');
    await writeSafetensors(file, [
      { name: 'a', dtype: 'F32', shape: [2, 3, 4], data: encodeF32(new Array<number>(24).fill(1)) },
      { name: 'b', dtype: 'F32', shape: [1000], data: encodeF32(new Array<number>(1000).fill(2)) },
    ]);
    await withCheckpoint(file, async (ck) => {
      const a = ck.tensor('a')!;
      const bad = async (req: Partial<SliceRequest>, pattern: RegExp): Promise<void> => {
        await assert.rejects(readValuesPage(ck, a, { lead: [0], row: 0, col: 0, rows: 2, cols: 2, ...req }), (e: unknown) => {
          assert.ok(e instanceof SafetensorsError, String(e));
          assert.equal(e.rule, 'index-out-of-range');
          assert.equal(e.file, file);
          assert.match(e.message, pattern);
          return true;
        });
      };
      await bad({ lead: [2] }, /index 2 of dimension 0 \(size 2\)/);
      await bad({ lead: [] }, /1 leading indices are needed, got 0/);
      await bad({ lead: [-1] }, /index -1/);
      await bad({ lead: [0.5] }, /index 0.5/);
      await bad({ row: 3 }, /row 3 \(rows 0 to 2\)/);
      await bad({ col: 4 }, /column 4 \(columns 0 to 3\)/);
      await bad({ rows: 0 }, /a page of 0 x 2/);
      await bad({ rows: 100, cols: 100 }, /a page of 100 x 100/);
      assert.deepEqual((await readValuesPage(ck, a, { lead: [1], row: 2, col: 3, rows: 9, cols: 9 })).cells, [['1']]);
      truncateSync(file, 200);
      await assert.rejects(readValuesPage(ck, ck.tensor('b')!, { lead: [], row: 990, col: 0, rows: 10, cols: 1 }), (e: unknown) => {
        assert.ok(e instanceof SafetensorsError && e.rule === 'short-read' && e.file === file, String(e));
        return true;
      });
    });
  });
});
