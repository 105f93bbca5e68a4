// The bundled real checkpoints (test/fixtures/real, sources in its MANIFEST.md) are the files the
// other tests rely on: each is checked by content, not only by count. The expected facts were
// taken independently of the engine (Python's json + numpy over the raw bytes, sha256sum): the
// file's SHA-256 and size, header length, metadata, tensor count and total params, the first and
// last tensor in byte order, and for a few named tensors dtype, shape, the SHA-256 of their bytes
// and their exact min/max and sum (float32 values; the sum within rounding). The engine's reader
// must read the same.
// Only src/mimicry/safetensors/reader.ts is imported from the engine.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { openCheckpoint, readHeader } from '../../src/mimicry/safetensors/reader';
import { REAL, REAL_TENSOR_COUNTS } from './helpers/real-fixtures';

interface NamedTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** SHA-256 of the tensor's raw bytes in the file. */
  readonly sha256: string;
  readonly min: number;
  readonly max: number;
  /** Exact (math.fsum) sum of the float32 values. */
  readonly sum: number;
}

interface FixtureFacts {
  readonly sha256: string;
  readonly bytes: number;
  readonly headerLength: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: number;
  readonly params: number;
  /** First and last tensor in the order of their bytes. */
  readonly first: string;
  readonly last: string;
  readonly named: readonly NamedTensor[];
}

const FIXTURES: Readonly<Record<string, FixtureFacts>> = {
  'capp-gpt2-4layer.safetensors': {
    sha256: 'e683d99fe9ec7b798a95eeafb80895f17292a2ee75fd2a2f939e71e2d16c7ab3',
    bytes: 949_792,
    headerLength: 4888,
    metadata: { format: 'pt' },
    tensors: 52,
    params: 236_224,
    first: 'transformer.h.0.attn.c_attn.bias',
    last: 'transformer.wte.weight',
    named: [
      {
        name: 'transformer.wte.weight',
        dtype: 'F32',
        shape: [53, 64],
        sha256: '631579ffc3f523966e81ff79969daf839ba0bfa8af0cd19a2f7a0112987054b9',
        min: -0.22099484503269196,
        max: 0.2165946215391159,
        sum: 2.5013322253689694,
      },
      {
        name: 'transformer.h.0.attn.c_attn.weight',
        dtype: 'F32',
        shape: [64, 192],
        sha256: 'affa1e0b75a0d7a55ffe88317d04509754ebeb6f472787a7ddd8359a9c05cc16',
        min: -0.17570734024047852,
        max: 0.18651102483272552,
        sum: -4.414308865838393,
      },
      // GPT-2 Conv1D weights are stored [in, out]: c_proj of the MLP is [256, 64].
      {
        name: 'transformer.h.3.mlp.c_proj.weight',
        dtype: 'F32',
        shape: [256, 64],
        sha256: '0b0eebf2564f31e8bed6c1a172674ae3127d117d7cafe48224515ab5f89da8ae',
        min: -0.06944170594215393,
        max: 0.07354645431041718,
        sum: -0.5215400245365913,
      },
      {
        name: 'transformer.ln_f.weight',
        dtype: 'F32',
        shape: [64],
        sha256: 'a9a7d895057c8d42ddc97ca9bb2aa9fd749566f24a37599887b1a016a80b11f3',
        min: 1.127297282218933,
        max: 1.2058029174804688,
        sum: 74.98382937908173,
      },
    ],
  },
  'peft-gpt2-lora-12layer.safetensors': {
    sha256: '658bf57ed30d22120177cda107e513c0712db1b4324528cc4f65cdf562248e3e',
    bytes: 1_201_208,
    headerLength: 3120,
    metadata: { format: 'pt' },
    tensors: 25,
    params: 299_520,
    first: 'base_model.model.score.weight',
    last: 'base_model.model.transformer.h.9.attn.c_attn.lora_B.weight',
    named: [
      {
        name: 'base_model.model.score.weight',
        dtype: 'F32',
        shape: [6, 768],
        sha256: 'c3a46faa5de798ac99b95b2d408eccec2b383ff1742464f1f0ea89b382c5cad7',
        min: -0.3185023367404938,
        max: 0.25234276056289673,
        sum: 0.05648054687844706,
      },
      {
        name: 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight',
        dtype: 'F32',
        shape: [8, 768],
        sha256: '9eab60837cb5c2e83cdef1115a9ba47cde4721940381c3e6187f2cce5d31efde',
        min: -0.3859262466430664,
        max: 0.4525641202926636,
        sum: -3.985453115150449,
      },
      {
        name: 'base_model.model.transformer.h.11.attn.c_attn.lora_B.weight',
        dtype: 'F32',
        shape: [2304, 8],
        sha256: 'e598ddd190d3e3ab6f8fe59ef8257f5041ec52085d35cada413dce716ec533fe',
        min: -0.3320225775241852,
        max: 0.358882874250412,
        sum: -1.5571417726456502,
      },
    ],
  },
  'mlx-qwen05b-lora-4layer.safetensors': {
    sha256: '973004d4a3e34da81ca0074ca07309898f1c4bd2b6a985c29be5000fc7262251',
    bytes: 362_140,
    headerLength: 1684, // not a multiple of 8
    metadata: {},
    tensors: 16,
    params: 90_112,
    // Data not in name order.
    first: 'model.layers.23.self_attn.v_proj.lora_b',
    last: 'model.layers.20.self_attn.q_proj.lora_a',
    named: [
      {
        name: 'model.layers.23.self_attn.v_proj.lora_b',
        dtype: 'F32',
        shape: [8, 128],
        sha256: '0098ac73f160564f445d1d774d0bbd1f45c5691ba9f5911ba6542b23b45a62d5',
        min: -0.007217814214527607,
        max: 0.007163245230913162,
        sum: 0.029289102949405788,
      },
      {
        name: 'model.layers.20.self_attn.q_proj.lora_a',
        dtype: 'F32',
        shape: [896, 8],
        sha256: 'f51bff3344931c5641ad0a86815054597b7ca6b4f608de85e2aa345b915634db',
        min: -0.03992000222206116,
        max: 0.04010973870754242,
        sum: 1.3963789380386515,
      },
      {
        name: 'model.layers.21.self_attn.v_proj.lora_a',
        dtype: 'F32',
        shape: [896, 8],
        sha256: '8bcb9e2777a775dfcfbc44d8aae4ff06a46136628a41b50ecf00d36d713bb421',
        min: -0.041278496384620667,
        max: 0.041285835206508636,
        sum: -3.1281805161522698,
      },
    ],
  },
  'tinygrad-mnist-cnn.safetensors': {
    sha256: 'af6df771ef65b4c6311f6264029b662efe14e2edde1bcb2057b4ad72ea83a73c',
    bytes: 353_808,
    headerLength: 1624,
    metadata: {},
    tensors: 20,
    params: 88_044,
    first: 'layers.0.weight',
    last: 'layers.13.bias',
    named: [
      {
        name: 'layers.0.weight',
        dtype: 'F32',
        shape: [32, 1, 5, 5],
        sha256: '7771b5d3a18c92b4cb3df930b5f2e8e1200c2bfc6741b877414f939b4a8113d1',
        min: -0.2155918926000595,
        max: 0.20983979105949402,
        sum: 0.6273680186131969,
      },
      {
        name: 'layers.4.running_var',
        dtype: 'F32',
        shape: [32],
        sha256: '1c84f3c70461a135c11ecd9d9f6b6103a772cd21ccc55d357614312b44760a30',
        min: 20.744009017944336,
        max: 4435.8623046875,
        sum: 27357.08103942871,
      },
      // tinygrad stores BatchNorm's counter as F32 [1].
      {
        name: 'layers.4.num_batches_tracked',
        dtype: 'F32',
        shape: [1],
        sha256: '4acaf7a70ab216e9be31d0bad8c8ec720947257cf0104db6dcadf3cf2caa3782',
        min: 70,
        max: 70,
        sum: 70,
      },
      {
        name: 'layers.13.weight',
        dtype: 'F32',
        shape: [10, 576],
        sha256: '506293582928b830aef278df1ff9fada5e582232f09b0acddfafb45452728068',
        min: -0.07367762923240662,
        max: 0.07216400653123856,
        sum: -6.786986739235488,
      },
    ],
  },
};

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

test('the bundled real fixtures are exactly the four described here and in MANIFEST.md', () => {
  const files = readdirSync(REAL)
    .filter((f) => f.endsWith('.safetensors'))
    .sort();
  assert.deepEqual(files, Object.keys(FIXTURES).sort());
  assert.deepEqual(Object.keys(REAL_TENSOR_COUNTS).sort(), files);
  const manifest = readFileSync(path.join(REAL, 'MANIFEST.md'), 'utf8');
  for (const f of files) assert.ok(manifest.includes(f), `MANIFEST.md does not describe ${f}`);
});

for (const [file, facts] of Object.entries(FIXTURES)) {
  describe(`fixture ${file}`, () => {
    const abs = path.resolve(REAL, file);

    test(`its bytes: ${facts.bytes} bytes, SHA-256 ${facts.sha256.slice(0, 12)}…`, () => {
      assert.equal(statSync(abs).size, facts.bytes);
      assert.equal(sha256(readFileSync(abs)), facts.sha256);
    });

    test(
      `its header parses: length ${facts.headerLength}, metadata, ` + `${facts.tensors} tensors, ${facts.params} params, byte order`,
      async () => {
        const header = await readHeader(abs);
        assert.equal(header.fileBytes, facts.bytes);
        assert.equal(header.headerLength, facts.headerLength);
        assert.deepEqual({ ...header.metadata }, facts.metadata);
        assert.equal(header.tensors.length, facts.tensors);
        assert.equal(header.tensors.length, REAL_TENSOR_COUNTS[file], 'the count the other tests share');
        assert.equal(
          header.tensors.reduce((s, t) => s + t.params, 0),
          facts.params,
        );
        assert.ok(
          header.tensors.every((t) => t.dtype === 'F32'),
          'every tensor is F32',
        );
        assert.equal(header.tensors[0]?.name, facts.first);
        assert.equal(header.tensors[header.tensors.length - 1]?.name, facts.last);
      },
    );

    test(`named tensors: ${facts.named.map((t) => t.name).join(', ')}: dtype, shape, bytes and values`, async () => {
      const ck = await openCheckpoint(abs);
      try {
        assert.equal(ck.tensors.length, facts.tensors);
        for (const want of facts.named) {
          const t = ck.tensor(want.name);
          assert.ok(t, `no tensor ${want.name}`);
          assert.equal(t.dtype, want.dtype, `${want.name}: dtype`);
          assert.deepEqual([...t.shape], want.shape, `${want.name}: shape`);
          assert.equal(
            t.params,
            want.shape.reduce((a, b) => a * b, 1),
            `${want.name}: params`,
          );
          assert.equal(sha256(await ck.readBytes(t)), want.sha256, `${want.name}: SHA-256 of its bytes`);
          const values = await ck.readValues(t);
          assert.equal(values.length, t.params);
          let min = Infinity,
            max = -Infinity,
            sum = 0,
            magnitude = 0;
          for (const v of values) {
            if (v < min) min = v;
            if (v > max) max = v;
            sum += v;
            magnitude += Math.abs(v);
          }
          assert.equal(min, want.min, `${want.name}: min`);
          assert.equal(max, want.max, `${want.name}: max`);
          assert.ok(Math.abs(sum - want.sum) <= 1e-12 * magnitude + 1e-15, `${want.name}: sum ${sum}, expected ${want.sum}`);
        }
      } finally {
        await ck.close();
      }
    });
  });
}
