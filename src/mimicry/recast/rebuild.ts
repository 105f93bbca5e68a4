// docs/FORMAT.md's reconstruction rule applied to a reparameterized file: the dense checkpoint with the
// original names, shapes and dtypes. Equals the project's own dense export byte for byte.
import { openCheckpoint } from '../safetensors/reader';
import { writeSafetensorsStreaming, type StreamingTensor, type WriteControl } from '../safetensors/writer';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { BankCache, bytesPerElement, denseMember } from './dense';
import { BANK_NAME, COEFFICIENT_PREFIX, RECAST_FORMAT, RECAST_VERSION, SOURCE_METADATA_KEY, TEMPLATE_PREFIX } from './format';
import type { BankPlan } from './grouping';
import { copiedTensor } from './passthrough';
import type { BanksJson } from './report';
import { Scratch } from './scratch';
import { readFloat32Into } from './stream';
import { RecastFormatError } from './errors';
import { isPositiveInt } from '../positiveInt';

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
}

/** One JSON-valued metadata key of a recast file; missing or malformed is a RecastFormatError. */
export function metadataJson<T = unknown>(meta: Readonly<Record<string, string>>, key: string): T {
  const text = meta[key];
  if (text === undefined) throw new RecastFormatError('metadata-missing', key);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new RecastFormatError('metadata-not-json', key);
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Reads and checks a reparameterized file's layout against docs/FORMAT.md. */
export function parseRecast(checkpoint: Checkpoint): RecastFile {
  const meta = checkpoint.metadata;
  if (meta.format !== RECAST_FORMAT)
    throw new RecastFormatError('not-recast', `format is ${JSON.stringify(meta.format ?? null)}`, checkpoint.path);
  if (meta['recast.version'] !== RECAST_VERSION)
    throw new RecastFormatError('unsupported-recast-version', JSON.stringify(meta['recast.version'] ?? null), checkpoint.path);
  const sets = Number(meta['recast.coefficient_sets']);
  if (!isPositiveInt(sets))
    throw new RecastFormatError('metadata-invalid', 'recast.coefficient_sets must be a positive integer', checkpoint.path);
  const raw = metadataJson(meta, 'recast.banks');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new RecastFormatError('metadata-invalid', 'recast.banks must be an object', checkpoint.path);
  const banks: RecastBank[] = [];
  const used = new Set<string>();
  for (const [name, b] of Object.entries(raw as BanksJson)) {
    if (!BANK_NAME.test(name)) throw new RecastFormatError('bank-invalid', `bad bank name ${JSON.stringify(name)}`, checkpoint.path);
    const { members, shape, templates, source_dtype: dtype } = b;
    if (!Array.isArray(members) || !Array.isArray(shape) || !isPositiveInt(templates) || !['F32', 'F16', 'BF16'].includes(dtype)) {
      throw new RecastFormatError('bank-invalid', `bank ${name}: members, shape, templates or source_dtype is malformed`, checkpoint.path);
    }
    const t = checkpoint.tensor(TEMPLATE_PREFIX + name);
    if (!t || t.dtype !== 'F32' || !sameShape(t.shape, [templates, ...shape])) {
      throw new RecastFormatError(
        'tensor-invalid',
        `${TEMPLATE_PREFIX}${name} must be F32 [${[templates, ...shape].join(', ')}]`,
        checkpoint.path,
      );
    }
    used.add(t.name);
    const coefficientTensors = members.map((m) => {
      const c = checkpoint.tensor(COEFFICIENT_PREFIX + m);
      if (!c || c.dtype !== 'F32' || c.shape.length !== 2 || c.shape[1] !== templates || c.shape[0] < 1) {
        throw new RecastFormatError('tensor-invalid', `${COEFFICIENT_PREFIX}${m} must be F32 [K, ${templates}]`, checkpoint.path);
      }
      used.add(c.name);
      return c;
    });
    banks.push({ name, members, shape, templates, dtype, templateTensor: t, coefficientTensors });
  }
  const copies = checkpoint.tensors.filter((t) => !used.has(t.name));
  const names = new Set(copies.map((t) => t.name));
  for (const b of banks) {
    for (const m of b.members) {
      if (names.has(m)) throw new RecastFormatError('tensor-conflict', m, checkpoint.path);
      names.add(m);
    }
  }
  let sourceMetadata: Record<string, string>;
  if (meta[SOURCE_METADATA_KEY] !== undefined) {
    sourceMetadata = metadataJson<Record<string, string>>(meta, SOURCE_METADATA_KEY);
  } else {
    // Written by another tool: the source's keys are the ones that are not docs/FORMAT.md's.
    sourceMetadata = Object.fromEntries(Object.entries(meta).filter(([k]) => k !== 'format' && !k.startsWith('recast.')));
  }
  return { banks, sets, copies, sourceMetadata, metadata: meta };
}

/** The dense tensors of a recast file, produced one at a time. */
export function denseEntries(checkpoint: Checkpoint, file: RecastFile): StreamingTensor[] {
  const byBank = new Map(file.banks.map((b) => [b.name, b]));
  const scratch = new Scratch();
  const cache = new BankCache((bank) => {
    const t = (byBank.get(bank) as RecastBank).templateTensor;
    return readFloat32Into(checkpoint, t, scratch.floats('bank-templates', t.params), scratch);
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
          const c = await checkpoint.readValues(b.coefficientTensors[l]);
          return denseMember(await cache.get(b.name), b.templates, c instanceof Float32Array ? c : Float32Array.from(c), b.dtype, scratch);
        },
      });
    });
  }
  for (const t of file.copies) entries.push(copiedTensor(checkpoint, t, scratch));
  return entries;
}

/** Rebuilds the dense checkpoint from a recast file into `out` (atomic; never over the input). */
export async function rebuildDense(recastPath: string, out: string, io: WriteControl = {}): Promise<{ members: number; copies: number }> {
  const checkpoint = await openCheckpoint(recastPath);
  try {
    const file = parseRecast(checkpoint);
    const meta = Object.keys(file.sourceMetadata).length > 0 ? { ...file.sourceMetadata } : undefined;
    await writeSafetensorsStreaming(out, denseEntries(checkpoint, file), meta, { refuse: [checkpoint.path], ...io });
    return { members: file.banks.reduce((a, b) => a + b.members.length, 0), copies: file.copies.length };
  } finally {
    await checkpoint.close();
  }
}
