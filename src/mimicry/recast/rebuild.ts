// docs/FORMAT.md's reconstruction rule applied to a reparameterized file: the dense checkpoint with the
// original names, shapes and dtypes. Equals the project's own dense export byte for byte.
import { openCheckpoint } from '../safetensors/reader';
import { writeSafetensorsStreaming, type StreamingTensor, type WriteControl } from '../safetensors/writer';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { BankCache, bytesPerElement, denseMember } from './dense';
import { COEFFICIENT_PREFIX, TEMPLATE_PREFIX } from './format';
import type { BankPlan } from './grouping';
import { copiedTensor } from './passthrough';
import { Scratch } from './scratch';
import { readFloat32Into } from './stream';
import { RecastFormatError } from './errors';
import { readRecastMetadata, type RecastMetadata } from './recastSchema';

/** A bank as a recast file stores it: the plan's layout, the templates it kept, its tensors. */
export interface RecastBank extends Pick<BankPlan, 'name' | 'members' | 'shape' | 'dtype'> {
  readonly templates: number;
  readonly templateTensor: TensorInfo;
  readonly coefficientTensors: readonly TensorInfo[];
}

export interface RecastFile {
  readonly banks: readonly RecastBank[];
  readonly sets: number;
  /** Tensors copied from the source. */
  readonly copies: readonly TensorInfo[];
  /** The source's own __metadata__. */
  readonly sourceMetadata: Readonly<Record<string, string>>;
  readonly metadata: Readonly<Record<string, string>>;
  /** Every recast metadata key, checked against the one schema (./recastSchema.ts). */
  readonly docs: RecastMetadata;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Reads and checks a reparameterized file against docs/FORMAT.md: all of its metadata (the schema
 * of ./recastSchema.ts) and the layout of its tensors. Everything that can be known without reading
 * tensor values is checked here; NaN and infinity are found as the values are read (assertFinite).
 */
export function parseRecast(checkpoint: Checkpoint): RecastFile {
  const file = checkpoint.path;
  const docs = readRecastMetadata(checkpoint.metadata, file);
  const { sets } = docs;
  const banks: RecastBank[] = [];
  const used = new Set<string>();
  const bankOf = new Map<string, string>();
  for (const { name, members, shape, templates, dtype } of docs.banks) {
    const t = checkpoint.tensor(TEMPLATE_PREFIX + name);
    const want = [templates, ...shape];
    // docs/FORMAT.md section 1: templates are F32, or the bank's own 16-bit source_dtype.
    if (!t || (t.dtype !== 'F32' && t.dtype !== dtype) || !sameShape(t.shape, want)) {
      const got = t ? `${t.dtype} ${shapeText(t.shape)}` : 'missing';
      const may = dtype === 'F32' ? 'F32' : `F32 or ${dtype} (the bank's source_dtype)`;
      throw new RecastFormatError('tensor-invalid', `${TEMPLATE_PREFIX}${name} must be ${may} ${shapeText(want)}, is ${got}`, file);
    }
    used.add(t.name);
    const coefficientTensors = members.map((m) => {
      const other = bankOf.get(m);
      if (other !== undefined) {
        const where = other === name ? `twice in bank ${name}` : `in banks ${other} and ${name}`;
        throw new RecastFormatError('tensor-conflict', `${JSON.stringify(m)} is a member ${where}`, file);
      }
      bankOf.set(m, name);
      const c = checkpoint.tensor(COEFFICIENT_PREFIX + m);
      if (!c || c.dtype !== 'F32' || !sameShape(c.shape, [sets, templates])) {
        const got = c ? `${c.dtype} ${shapeText(c.shape)}` : 'missing';
        throw new RecastFormatError(
          'tensor-invalid',
          `${COEFFICIENT_PREFIX}${m} must be F32 [${sets}, ${templates}] (K = recast.coefficient_sets, n = templates of bank ${name}), is ${got}`,
          file,
        );
      }
      used.add(c.name);
      return c;
    });
    banks.push({ name, members, shape, templates, dtype, templateTensor: t, coefficientTensors });
  }
  const copies: TensorInfo[] = [];
  for (const t of checkpoint.tensors) {
    if (used.has(t.name)) continue;
    if (t.name.startsWith(TEMPLATE_PREFIX) || t.name.startsWith(COEFFICIENT_PREFIX))
      throw new RecastFormatError('tensor-stray', t.name, file);
    if (bankOf.has(t.name))
      throw new RecastFormatError(
        'tensor-conflict',
        `${JSON.stringify(t.name)} is a member of bank ${bankOf.get(t.name)} and a copied tensor`,
        file,
      );
    copies.push(t);
  }
  // Written by another tool without recast.source_metadata: the source's keys are the ones that are not docs/FORMAT.md's.
  const meta = checkpoint.metadata;
  const sourceMetadata =
    docs.sourceMetadata ?? Object.fromEntries(Object.entries(meta).filter(([k]) => k !== 'format' && !k.startsWith('recast.')));
  return { banks, sets, copies, sourceMetadata, metadata: meta, docs };
}

/** NaN or infinity in a template or coefficient tensor of `file` is a refusal naming the first one. */
export function assertFinite(values: ArrayLike<number>, tensor: TensorInfo, file: string, offset = 0): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]))
      throw new RecastFormatError('tensor-non-finite', `${tensor.name} holds ${values[i]} at element ${offset + i}`, file);
  }
}

/** All values of a template or coefficient tensor as float32, checked finite. */
export async function readFinite(checkpoint: Checkpoint, tensor: TensorInfo): Promise<Float32Array> {
  const v = await checkpoint.readValues(tensor);
  const f = v instanceof Float32Array ? v : Float32Array.from(v);
  assertFinite(f, tensor, checkpoint.path);
  return f;
}

/** Reads every template and coefficient tensor in bounded chunks, refusing NaN and infinity. */
export async function checkRecastValues(checkpoint: Checkpoint, file: RecastFile, signal?: AbortSignal): Promise<void> {
  for (const b of file.banks) {
    for (const t of [b.templateTensor, ...b.coefficientTensors]) {
      let at = 0;
      for await (const chunk of checkpoint.chunks(t, undefined, signal)) {
        assertFinite(chunk, t, checkpoint.path, at);
        at += chunk.length;
      }
    }
  }
}

/** The dense tensors of a recast file, produced one at a time. */
export function denseEntries(checkpoint: Checkpoint, file: RecastFile): StreamingTensor[] {
  const byBank = new Map(file.banks.map((b) => [b.name, b]));
  const scratch = new Scratch();
  const cache = new BankCache(async (bank) => {
    const t = (byBank.get(bank) as RecastBank).templateTensor;
    const values = await readFloat32Into(checkpoint, t, scratch.floats('bank-templates', t.params), scratch);
    assertFinite(values, t, checkpoint.path);
    return values;
  });
  const entries: StreamingTensor[] = [];
  for (const b of file.banks) {
    const size = b.shape.reduce((a, v) => a * v, 1);
    b.members.forEach((name, l) => {
      entries.push({
        name,
        dtype: b.dtype,
        shape: b.shape,
        byteLength: bytesPerElement(b.dtype) * size,
        bytes: async () => {
          const c = await readFinite(checkpoint, b.coefficientTensors[l]);
          return denseMember(await cache.get(b.name), b.templates, c, b.dtype, scratch);
        },
      });
    });
  }
  for (const t of file.copies) entries.push(copiedTensor(checkpoint, t, scratch));
  return entries;
}

/** A recast file opened and checked (parseRecast); the checkpoint is closed again when the check fails. */
export async function openRecast(recastPath: string): Promise<{ checkpoint: Checkpoint; file: RecastFile }> {
  const checkpoint = await openCheckpoint(recastPath);
  try {
    return { checkpoint, file: parseRecast(checkpoint) };
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
}

/**
 * Writes the dense checkpoint of a checked recast file into `out` (atomic; never over the input).
 * A template or coefficient holding NaN or infinity stops the write as it is read: the writer then
 * removes its temporary file and `out` is never created.
 */
export async function writeRebuilt(
  checkpoint: Checkpoint,
  file: RecastFile,
  out: string,
  io: WriteControl = {},
): Promise<{ members: number; copies: number }> {
  const meta = Object.keys(file.sourceMetadata).length > 0 ? { ...file.sourceMetadata } : undefined;
  await writeSafetensorsStreaming(out, denseEntries(checkpoint, file), meta, { refuse: [checkpoint.path], ...io });
  return { members: file.banks.reduce((a, b) => a + b.members.length, 0), copies: file.copies.length };
}

/** Rebuilds the dense checkpoint from a recast file into `out` (atomic; never over the input). */
export async function rebuildDense(recastPath: string, out: string, io: WriteControl = {}): Promise<{ members: number; copies: number }> {
  const { checkpoint, file } = await openRecast(recastPath);
  try {
    return await writeRebuilt(checkpoint, file, out, io);
  } finally {
    await checkpoint.close();
  }
}
