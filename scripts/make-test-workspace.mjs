// Builds the workspace folder the code-server / VS Code test layers open: the real fixtures, a
// 2-shard model with its index, a file with hostile tensor names, corrupt files, and a checkpoint
// with 10,000+ small tensors (the inspector's table must stay virtualised and searchable).
// The bytes are written here directly (safetensors: u64 LE header length N, N bytes of JSON
// padded with spaces, then the data area), so these fixtures do not depend on the parser or
// writer under test. Usage: node scripts/make-test-workspace.mjs DIR
import { mkdirSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKSPACE_FILES } from './test-workspace-files.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export { WORKSPACE_FILES };

/** Deterministic pseudo-random floats (a sum of uniforms: roughly bell-shaped histograms). */
function values(n, seed) {
  let s = seed >>> 0 || 1;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() + next() + next() + next() - 2) * 0.5;
  return out;
}

/** Serializes tensors [{name, shape, data: Float32Array}] to safetensors bytes (F32). */
export function safetensorsBytes(tensors, metadata) {
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.byteLength;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // data area 8-aligned, as the spec recommends
  const head = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  return Buffer.concat([len, head, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

function tensor(name, shape, seed) {
  return {
    name,
    shape,
    data: values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  };
}

export function makeTestWorkspace(dir) {
  dir = resolve(dir);
  for (const sub of ['real', 'sharded', 'hostile', 'corrupt', 'big']) mkdirSync(join(dir, sub), { recursive: true });

  const fixtures = join(repoRoot, 'test', 'fixtures', 'real');
  for (const f of readdirSync(fixtures).filter((f) => f.endsWith('.safetensors'))) copyFileSync(join(fixtures, f), join(dir, 'real', f));
  // A PEFT adapter folder with its adapter_config.json: the inspector draws its factors' layer-update spectra.
  const adapter = dirname(join(dir, WORKSPACE_FILES.adapter));
  mkdirSync(adapter, { recursive: true });
  for (const f of ['adapter_model.safetensors', 'adapter_config.json'])
    copyFileSync(join(fixtures, 'gpt2-lora-family', 'math', f), join(adapter, f));
  // The rest of the GPT-2 family (a task family: the Family dashboard compares them).
  for (const member of WORKSPACE_FILES.family.slice(1)) {
    mkdirSync(join(dir, member), { recursive: true });
    for (const f of ['adapter_model.safetensors', 'adapter_config.json'])
      copyFileSync(join(fixtures, 'gpt2-lora-family', member.replace(/^family\//, ''), f), join(dir, member, f));
  }

  // A generated base for the family's shared c_attn layers (GPT-2's own is 548 MB): a shared part plus
  // each layer's own, so the base's templates are not all alike.
  mkdirSync(dirname(join(dir, WORKSPACE_FILES.familyBase)), { recursive: true });
  const shared = values(768 * 2304, 900);
  const layers = Array.from({ length: 12 }, (_, i) => {
    const own = values(shared.length, 901 + i);
    return { name: `h.${i}.attn.c_attn.weight`, shape: [768, 2304], data: own.map((v, j) => 0.02 * (shared[j] + 0.5 * v)) };
  });
  writeFileSync(join(dir, WORKSPACE_FILES.familyBase), safetensorsBytes(layers, { format: 'pt' }));

  // A 2-shard model, as transformers' save_pretrained writes it.
  const shard1 = [
    tensor('model.embed.weight', [32, 16], 1),
    tensor('model.layers.0.weight', [16, 16], 2),
    tensor('model.layers.0.bias', [16], 3),
  ];
  const shard2 = [tensor('model.layers.1.weight', [16, 16], 4), tensor('model.layers.1.bias', [16], 5)];
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const b1 = safetensorsBytes(shard1, { format: 'pt' });
  const b2 = safetensorsBytes(shard2, { format: 'pt' });
  writeFileSync(join(dir, 'sharded', names[0]), b1);
  writeFileSync(join(dir, 'sharded', names[1]), b2);
  const weightMap = {};
  for (const t of shard1) weightMap[t.name] = names[0];
  for (const t of shard2) weightMap[t.name] = names[1];
  const totalSize = [...shard1, ...shard2].reduce((a, t) => a + t.data.byteLength, 0);
  writeFileSync(
    join(dir, WORKSPACE_FILES.shardedIndex),
    JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2) + '\n',
  );

  // Untrusted text: tensor names and metadata that are markup. They must show as text.
  writeFileSync(
    join(dir, WORKSPACE_FILES.hostile),
    safetensorsBytes(
      [
        tensor(WORKSPACE_FILES.hostileName, [8, 8], 11),
        tensor('"><script>alert(2)</script>', [4, 4], 12),
        tensor('normal.weight', [8, 4], 13),
      ],
      { format: 'pt', note: '<b onmouseover=alert(3)>metadata</b>' },
    ),
  );

  // 8 bytes claiming a header of 1 TiB: must be refused, not allocated.
  const huge = Buffer.alloc(8);
  huge.writeBigUInt64LE(1n << 40n);
  writeFileSync(join(dir, WORKSPACE_FILES.corruptHugeHeader), huge);
  // A well-sized header that is not JSON.
  const notJson = Buffer.from('this is not json, it is plain text!!!!!!', 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(notJson.length));
  writeFileSync(join(dir, WORKSPACE_FILES.corruptNotJson), Buffer.concat([len, notJson, Buffer.alloc(16)]));

  // Many tensors, tiny each (a ~1 MB header, ~120 KB of data): a weight [2, 2] and a bias [2] per
  // layer, then one lm_head.weight [4, 4] that is the last row of the table.
  const many = [];
  for (let i = 0; i < WORKSPACE_FILES.manyLayers; i++) {
    many.push(tensor(`model.layers.${i}.weight`, [2, 2], 100 + 2 * i), tensor(`model.layers.${i}.bias`, [2], 101 + 2 * i));
  }
  many.push(tensor('lm_head.weight', [4, 4], 99));
  if (many.length !== WORKSPACE_FILES.manyTensors)
    throw new Error(`many-tensor file: ${many.length} tensors, expected ${WORKSPACE_FILES.manyTensors}`);
  writeFileSync(join(dir, WORKSPACE_FILES.many), safetensorsBytes(many, { format: 'pt' }));
  return dir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/make-test-workspace.mjs DIR');
    process.exit(2);
  }
  console.log(makeTestWorkspace(dir));
}
