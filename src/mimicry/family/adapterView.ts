// One LoRA adapter seen as the checkpoint of its layer updates (docs/RECAST.md section 6.7): every
// layer's `scale * (B @ A)`, in the base weight's stored orientation, becomes an F32 tensor
// `<module>.weight` computed from the factors when read, a row block at a time; the adapter's other
// tensors (saved heads, biases) pass through as stored. Reconstruction, its curve and spectra read
// this view instead of the factors, which are defined only up to an invertible r x r change
// (B M, M^-1 A give the same update), so templates fitted to them say little.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { encodeF32 } from '../safetensors/dtypes';
import { openCheckpoint } from '../safetensors/reader';
import type { Checkpoint, DecodedValues, TensorInfo } from '../safetensors/types';
import { loraKind, readAdapter, type AdapterUpdates } from './members';
import { spectralMetrics, type SpectralMetrics } from '../stats/spectralMetrics';
import { factorRows, factorSingularValues, type FactorUpdate, type LayerUpdate } from './updates';

/** Metadata key of the view (and so of a recast file made from it): what its tensors are. */
export const UPDATES_METADATA_KEY = 'mimicry.lora_updates';

/** The JSON value of UPDATES_METADATA_KEY. */
export interface UpdatesNote {
  readonly kind: 'peft-lora' | 'mlx-lora';
  readonly rule: string;
  /** Layer updates in the view. */
  readonly layers: number;
  /** The adapter's own tensor count (factors and others). */
  readonly tensors: number;
}

export const UPDATE_RULE: Record<UpdatesNote['kind'], string> = {
  'peft-lora': 'scale * (lora_B @ lora_A), transposed for fan_in_fan_out',
  'mlx-lora': 'scale * (lora_a @ lora_b)^T',
};

/** The note a checkpoint's metadata carries when it is (or was made from) an adapter's update view. */
export function updatesNoteOf(metadata: Readonly<Record<string, string>>): UpdatesNote | null {
  const raw = metadata[UPDATES_METADATA_KEY];
  if (raw === undefined) return null;
  try {
    const v = JSON.parse(raw) as Partial<UpdatesNote>;
    if ((v.kind === 'peft-lora' || v.kind === 'mlx-lora') && typeof v.rule === 'string' && typeof v.layers === 'number')
      return { kind: v.kind, rule: v.rule, layers: v.layers, tensors: typeof v.tensors === 'number' ? v.tensors : 0 };
  } catch {
    // not ours: no note
  }
  return null;
}

/** One sentence for dashboards and CLI output. */
export function describeUpdates(note: UpdatesNote): string {
  return `LoRA adapter: its ${note.layers} layer updates ${note.rule} are reconstructed, not its factors`;
}

const CHUNK_ELEMENTS = 1 << 20;

/** Elements [e0, e1) of a factor update, row-major, rounded to float32. */
function elements(update: LayerUpdate & { kind: 'factors' }, e0: number, e1: number): Float32Array {
  const cols = update.cols;
  const r0 = Math.floor(e0 / cols);
  const r1 = Math.ceil(e1 / cols);
  const rows = factorRows(update, r0, r1);
  return Float32Array.from(rows.subarray(e0 - r0 * cols, e1 - r0 * cols));
}

/** Files that are already the project's outputs: never read as an adapter (their names can look like factors). */
const OUTPUT_FORMATS = new Set(['recast', 'recast-taskbank']);

/**
 * The update view of an open adapter checkpoint, or null when it holds no LoRA factors (then the
 * caller keeps the checkpoint as it is). Closing the view closes the adapter.
 */
export async function adapterUpdateView(ck: Checkpoint): Promise<Checkpoint | null> {
  if (OUTPUT_FORMATS.has(ck.metadata.format ?? '')) return null;
  const adapter: AdapterUpdates | null = await readAdapter(ck);
  if (!adapter) return null;
  const updates = new Map<string, LayerUpdate & { kind: 'factors' }>();
  const tensors: TensorInfo[] = [];
  let offset = 0;
  for (const layer of adapter.layers) {
    if (layer.update.kind !== 'factors') continue;
    const name = `${layer.name}.weight`;
    const params = layer.shape.reduce((a, b) => a * b, 1);
    const info: TensorInfo = {
      name,
      dtype: 'F32',
      shape: layer.shape,
      dataOffsets: [offset, offset + 4 * params],
      params,
      bytes: 4 * params,
      file: ck.path,
      fileOffset: -1, // computed, not stored
    };
    offset += info.bytes;
    updates.set(name, layer.update);
    tensors.push(info);
  }
  const ignored = new Set(adapter.ignored);
  const passed = ck.tensors.filter((t) => ignored.has(t.name) && !updates.has(t.name));
  tensors.push(...passed);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const note: UpdatesNote = { kind: adapter.kind, rule: UPDATE_RULE[adapter.kind], layers: updates.size, tensors: ck.tensors.length };
  const metadata = { ...ck.metadata, [UPDATES_METADATA_KEY]: JSON.stringify(note) };

  const computed = (t: TensorInfo) => (t.fileOffset === -1 ? updates.get(t.name) : undefined);
  const view: Checkpoint = {
    path: ck.path,
    kind: ck.kind,
    files: ck.files,
    totalBytes: ck.totalBytes,
    metadata,
    tensors,
    tensor: (name) => byName.get(name),
    async readBytes(t, start = 0, end = t.bytes, into) {
      const u = computed(t);
      if (!u) return ck.readBytes(t, start, end, into);
      if (start < 0 || end > t.bytes || start > end) throw new RangeError(`bytes [${start}, ${end}) of ${t.name} (${t.bytes} bytes)`);
      const e0 = Math.floor(start / 4);
      const e1 = Math.ceil(end / 4);
      const bytes = encodeF32(elements(u, e0, e1)).subarray(start - 4 * e0, end - 4 * e0);
      if (!into) return bytes;
      into.set(bytes);
      return into.subarray(0, bytes.byteLength);
    },
    async readValues(t) {
      const u = computed(t);
      return u ? elements(u, 0, t.params) : ck.readValues(t);
    },
    chunks(t, chunkElements = CHUNK_ELEMENTS, signal) {
      const u = computed(t);
      if (!u) return ck.chunks(t, chunkElements, signal);
      return (async function* (): AsyncGenerator<DecodedValues> {
        for (let e = 0; e < t.params; e += chunkElements) {
          signal?.throwIfAborted();
          yield elements(u, e, Math.min(t.params, e + chunkElements));
        }
      })();
    },
    close: () => ck.close(),
  };
  return view;
}

/** A checkpoint to fit, and what it is when that needs saying (an adapter). */
export interface FitSource {
  readonly checkpoint: Checkpoint;
  /** One sentence for the CLI and the dashboard; null for an ordinary checkpoint. */
  readonly note: string | null;
}

/**
 * The checkpoint reconstruction, its curve and spectra read: a LoRA adapter's update view by
 * default, its stored tensors (the factors) with `factors`, or when no adapter_config.json is beside
 * it (the updates need its scale); any other checkpoint as it is.
 */
export async function openFitSource(file: string, opts: { readonly factors?: boolean } = {}): Promise<FitSource> {
  const ck = await openCheckpoint(file);
  try {
    const kind = OUTPUT_FORMATS.has(ck.metadata.format ?? '') ? null : loraKind(ck.tensors.map((t) => t.name));
    if (!kind) return { checkpoint: ck, note: null };
    const factors = 'LoRA adapter: its stored factors are fitted as separate tensors, defined only up to an invertible r x r change';
    if (opts.factors) return { checkpoint: ck, note: `${factors} (--factors)` };
    if (!(await hasConfig(ck.path)))
      return { checkpoint: ck, note: `${factors}: no adapter_config.json beside it gives the updates' scale` };
    const view = await adapterUpdateView(ck);
    if (!view) return { checkpoint: ck, note: null };
    const note = updatesNoteOf(view.metadata);
    return { checkpoint: view, note: note ? describeUpdates(note) : null };
  } catch (e) {
    await ck.close();
    throw e;
  }
}

async function hasConfig(file: string): Promise<boolean> {
  try {
    await stat(path.join(path.dirname(file), 'adapter_config.json'));
    return true;
  } catch {
    return false;
  }
}

/** The layer update a LoRA factor tensor belongs to. */
export interface FactorLayer {
  readonly module: string;
  readonly rule: string;
  readonly update: FactorUpdate;
}

/**
 * Each factor tensor of a LoRA adapter (with its adapter_config.json) mapped to its layer's update,
 * for the inspector's spectra; null for any other checkpoint, and for an adapter whose config is
 * missing or refused (the inspector then shows the factors' own spectra, as for any tensor).
 */
export async function factorLayers(ck: Checkpoint): Promise<ReadonlyMap<string, FactorLayer> | null> {
  if (OUTPUT_FORMATS.has(ck.metadata.format ?? '') || !loraKind(ck.tensors.map((t) => t.name)) || !(await hasConfig(ck.path))) return null;
  let adapter: AdapterUpdates | null;
  try {
    adapter = await readAdapter(ck);
  } catch {
    return null;
  }
  if (!adapter) return null;
  const out = new Map<string, FactorLayer>();
  for (const layer of adapter.layers) {
    if (layer.update.kind !== 'factors' || !layer.factors) continue;
    const entry: FactorLayer = { module: layer.name, rule: UPDATE_RULE[adapter.kind], update: layer.update };
    for (const name of layer.factors) out.set(name, entry);
  }
  return out;
}

/** The singular values (descending) and spectral metrics of a factor layer's update, exact from its factors. */
export function updateSpectrum(layer: FactorLayer): { singularValues: number[]; metrics: SpectralMetrics } {
  const singularValues = factorSingularValues(layer.update);
  return { singularValues, metrics: spectralMetrics(singularValues) };
}
