// Writing an export (docs/FORMAT.md): the reparameterized file, the dense reconstruction and a report.
// Everything is written atomically; the source is never a target.
import { writeFileAtomic } from '../io/atomicFile';
import * as path from 'node:path';
import { encodeBF16, encodeF16, encodeF32, f32Bytes } from '../safetensors/dtypes';
import {
  stageSafetensorsData,
  stageSafetensorsStreaming,
  writeSafetensorsStreaming,
  type StagedData,
  type StagedFile,
  type StreamingTensor,
  type WriteControl,
  type WriteProgress,
} from '../safetensors/writer';
import { SafetensorsError } from '../safetensors/errors';
import type { Checkpoint } from '../safetensors/types';
import { BankCache, bytesPerElement, denseMember } from './dense';
import type { BankDType } from './grouping';
import { COEFFICIENT_PREFIX, RECAST_FORMAT, RECAST_VERSION, SOURCE_METADATA_KEY, TEMPLATE_PREFIX } from './format';
import { digestFile } from './hash';
import { ReconstructError } from './errors';
import { copiedTensor } from './passthrough';
import { reconstruct } from './reconstruct';
import { banksJson, metricsJson, reportJson, spectraJson, type ReportSource } from './report';
import type { BankSpectra } from '../dashboard/types';
import { Scratch } from './scratch';
import { FileTemplateStore, type TemplateStore } from './store';
import type { FittedResult, ReconstructHooks, ReconstructOptions, ReconstructResult } from './types';

export interface SourceRecord extends ReportSource {
  /** Sharded sources: each shard's digest (an added field). */
  readonly shards?: readonly ReportSource[];
}

/** docs/FORMAT.md recast.source: the file's base name, size and streamed SHA-256. */
export async function describeSource(checkpoint: Checkpoint, signal?: AbortSignal): Promise<SourceRecord> {
  const own = await digestFile(checkpoint.path, signal);
  if (checkpoint.kind === 'single') return own;
  const shards: ReportSource[] = [];
  for (const f of checkpoint.files) shards.push(await digestFile(f, signal));
  return { ...own, shards };
}

function writeOptions(checkpoint: Checkpoint, io: WriteControl) {
  return { refuse: [checkpoint.path, ...checkpoint.files], ...io };
}

/** What a run measured besides the engine's metrics, stored for the dashboard (docs/FORMAT.md recast.spectra). */
export interface RecastExtras {
  readonly spectra?: readonly BankSpectra[];
}

/** The reparameterized file's metadata, exactly docs/FORMAT.md's keys plus the source's own. */
export function recastMetadata(
  checkpoint: Checkpoint,
  result: ReconstructResult,
  source: SourceRecord,
  extras: RecastExtras = {},
): Record<string, string> {
  return {
    ...checkpoint.metadata,
    format: RECAST_FORMAT,
    'recast.version': RECAST_VERSION,
    'recast.banks': JSON.stringify(banksJson(result)),
    'recast.coefficient_sets': String(result.plan.options.sets),
    'recast.source': JSON.stringify(source),
    'recast.method': JSON.stringify(result.method),
    'recast.metrics': JSON.stringify(metricsJson(result)),
    ...(extras.spectra ? { 'recast.spectra': JSON.stringify(spectraJson(extras.spectra)) } : {}),
    [SOURCE_METADATA_KEY]: JSON.stringify(checkpoint.metadata),
  };
}

/**
 * The scratch slot a bank's float32 templates are read into by both writers: the dense file's and the
 * reparameterized file's, written one after the other with one Scratch, share the buffer.
 */
const BANK_TEMPLATES = 'bank-templates';

/** Template values read from the store at a time when 16-bit templates are encoded. */
const ENCODE_CHUNK = 1 << 20;

/**
 * A bank's templates as the file stores them. 16-bit ones were rounded before they were stored, so
 * encoding them again is exact; they are read and encoded a chunk at a time straight into the output
 * bytes, never held whole in float32.
 */
async function templateBytes(store: TemplateStore, bank: string, count: number, dtype: BankDType, scratch: Scratch): Promise<Uint8Array> {
  if (dtype === 'F32') return f32Bytes(await store.get(bank, scratch.floats(BANK_TEMPLATES, count)));
  const out = scratch.bytes('templates-encoded', 2 * count);
  const chunk = scratch.floats('templates-chunk', Math.min(count, ENCODE_CHUNK));
  for (let at = 0; at < count; at += ENCODE_CHUNK) {
    const end = Math.min(count, at + ENCODE_CHUNK);
    const values = await store.read(bank, at, chunk.subarray(0, end - at));
    const into = out.subarray(2 * at, 2 * end);
    const encoded = dtype === 'BF16' ? encodeBF16(values, into) : encodeF16(values, into);
    if (encoded.buffer !== out.buffer) into.set(encoded); // a big-endian host encodes into a new array
  }
  return out;
}

/** The reparameterized file's tensors: each bank's templates (read from the store when written) and coefficients, and the passthrough tensors. */
function reparameterizedEntries(checkpoint: Checkpoint, result: FittedResult, scratch = new Scratch()): StreamingTensor[] {
  const entries: StreamingTensor[] = [];
  for (const b of result.banks) {
    const shape = [b.n, ...b.plan.shape];
    const count = b.n * b.plan.size;
    entries.push({
      name: TEMPLATE_PREFIX + b.plan.name,
      dtype: b.templateDtype,
      shape,
      byteLength: bytesPerElement(b.templateDtype) * count,
      bytes: () => templateBytes(result.store, b.plan.name, count, b.templateDtype, scratch),
    });
    b.plan.members.forEach((name, l) => {
      const c = b.coefficients[l];
      entries.push({
        name: COEFFICIENT_PREFIX + name,
        dtype: 'F32',
        shape: [b.plan.sets, b.n],
        byteLength: 4 * c.length,
        bytes: () => Promise.resolve(encodeF32(c)),
      });
    });
  }
  const kept = new Set(result.plan.passthrough);
  for (const t of checkpoint.tensors) if (kept.has(t.name)) entries.push(copiedTensor(checkpoint, t, scratch));
  return entries;
}

export async function writeReparameterized(
  checkpoint: Checkpoint,
  result: ReconstructResult,
  file: string,
  source: SourceRecord,
  io: WriteControl = {},
  extras: RecastExtras = {},
): Promise<void> {
  await writeSafetensorsStreaming(
    file,
    reparameterizedEntries(checkpoint, result),
    recastMetadata(checkpoint, result, source, extras),
    writeOptions(checkpoint, io),
  );
}

/** A source record as long as the real one can be (its digests not computed yet): for sizing a header. */
function standInSource(checkpoint: Checkpoint): SourceRecord {
  const record = (file: string): ReportSource => ({ file: path.basename(file), bytes: Number.MAX_SAFE_INTEGER, sha256: 'f'.repeat(64) });
  const own = record(checkpoint.path);
  return checkpoint.kind === 'single' ? own : { ...own, shards: checkpoint.files.map(record) };
}

/** Header bytes reserved beyond the stand-in metadata's (stageReparameterized): room for what the stand-ins miss. */
const HEADER_SLACK = 1024;

/**
 * The reparameterized file's tensors written before template entropy is in (while the pool computes
 * it): the header is reserved at the size of `fitted.sizing`'s metadata (every value to come at its
 * longest) and written by StagedData.finish once the run's result and the source's digest are known.
 */
export async function stageReparameterized(
  checkpoint: Checkpoint,
  fitted: FittedResult,
  file: string,
  io: WriteControl = {},
  scratch = new Scratch(),
): Promise<StagedData | null> {
  if (!fitted.sizing) return null;
  return stageSafetensorsData(
    file,
    reparameterizedEntries(checkpoint, fitted, scratch),
    recastMetadata(checkpoint, fitted.sizing, standInSource(checkpoint)),
    HEADER_SLACK,
    writeOptions(checkpoint, io),
  );
}

/** Original names, shapes and dtypes; members rebuilt by docs/FORMAT.md's rule, the rest copied. */
export async function writeDense(checkpoint: Checkpoint, result: FittedResult, file: string, io: WriteControl = {}): Promise<void> {
  await (await stageDense(checkpoint, result, file, io)).commit();
}

/** writeDense up to the rename: needs no template entropy, so an export writes it while entropy runs. */
export async function stageDense(
  checkpoint: Checkpoint,
  result: FittedResult,
  file: string,
  io: WriteControl = {},
  scratch = new Scratch(),
): Promise<StagedFile> {
  const sizes = new Map(result.banks.map((b) => [b.plan.name, b.n * b.plan.size]));
  const cache = new BankCache((bank) => result.store.get(bank, scratch.floats(BANK_TEMPLATES, sizes.get(bank) ?? 0)));
  const entries: StreamingTensor[] = [];
  for (const b of result.banks) {
    b.plan.members.forEach((name, l) => {
      entries.push({
        name,
        dtype: b.plan.dtype,
        shape: b.plan.shape,
        byteLength: bytesPerElement(b.plan.dtype) * b.plan.size,
        bytes: async () => denseMember(await cache.get(b.plan.name), b.n, b.coefficients[l], b.plan.dtype, scratch),
      });
    });
  }
  const kept = new Set(result.plan.passthrough);
  for (const t of checkpoint.tensors) if (kept.has(t.name)) entries.push(copiedTensor(checkpoint, t, scratch));
  const meta = Object.keys(checkpoint.metadata).length > 0 ? { ...checkpoint.metadata } : undefined;
  return stageSafetensorsStreaming(file, entries, meta, writeOptions(checkpoint, io));
}

/** JSON written to a temporary file in the same folder, then renamed into place. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

export interface ExportTargets {
  /** The reparameterized file. */
  readonly out: string;
  readonly dense?: string;
  readonly report?: string;
}

export interface ExportOutcome {
  readonly result: ReconstructResult;
  readonly source: SourceRecord;
  readonly files: { readonly out: string; readonly dense?: string; readonly report?: string };
  /**
   * Seconds of the steps after the engine's (whose own phases are in result.method.phases), and of
   * the dense file written inside the engine's run while template entropy went on (part of `reconstruct`).
   */
  readonly timing: { readonly reconstruct: number; readonly digest: number; readonly write: number; readonly writeDuringEntropy: number };
}

function checkTargets(checkpoint: Checkpoint, targets: ExportTargets): void {
  const list = [targets.out, targets.dense, targets.report].filter((p): p is string => p !== undefined).map((p) => path.resolve(p));
  if (new Set(list).size !== list.length) throw new ReconstructError('output-paths-clash');
  const inputs = new Set([checkpoint.path, ...checkpoint.files].map((p) => path.resolve(p)));
  for (const p of list) if (inputs.has(p)) throw new ReconstructError('refuse-overwrite-source', undefined, p);
}

/**
 * Reconstructs and writes the export. Templates wait in a scratch file in the OS temp folder (removed at the
 * end), so memory holds one group while fitting and one tensor while writing.
 */
export interface ExportHooks extends Omit<ReconstructHooks, 'whileEntropy'> {
  /** Progress of each file's write (`file` as given in the targets). */
  onWrite?(file: string, p: WriteProgress): void;
}

/**
 * The staged reparameterized file with its header written, or null (none staged, or a header that
 * outgrew its reservation, file removed): then the caller writes the file whole after the run.
 */
export async function finishReparameterized(staged: StagedData | null, metadata: Record<string, string>): Promise<StagedFile | null> {
  if (!staged) return null;
  try {
    return await staged.finish(metadata);
  } catch (e) {
    if (e instanceof SafetensorsError && e.rule === 'header-outgrew-reservation') return null;
    throw e;
  }
}

export async function exportRecast(
  checkpoint: Checkpoint,
  options: ReconstructOptions,
  targets: ExportTargets,
  hooks: ExportHooks = {},
): Promise<ExportOutcome> {
  checkTargets(checkpoint, targets);
  const store = new FileTemplateStore();
  const io = (file: string): WriteControl => ({ signal: hooks.signal, onProgress: hooks.onWrite && ((p) => hooks.onWrite?.(file, p)) });
  // The dense file needs no template entropy: it is written (not yet renamed) while entropy runs on the
  // pool's workers, and appears after the reparameterized file, as when both are written after the run.
  // So is the reparameterized file's data, its header (metrics, entropy among them) written last.
  let dense: StagedFile | undefined;
  let reparameterized: StagedData | null = null;
  let writeDuringEntropy = 0;
  const whileEntropy = async (fitted: FittedResult, scratch: Scratch): Promise<void> => {
    const t = performance.now();
    // One after the other with the fits' scratch: the second reuses the first's buffers (a 7B MLP
    // bank's templates are 360 MB).
    if (targets.dense) dense = await stageDense(checkpoint, fitted, targets.dense, io(targets.dense), scratch);
    reparameterized = await stageReparameterized(checkpoint, fitted, targets.out, io(targets.out), scratch);
    writeDuringEntropy = (performance.now() - t) / 1000;
  };
  try {
    const t0 = performance.now();
    // The source's digest runs beside the reconstruction (its reads and hashing fill the waits, e.g.
    // for template entropy on the pool); `digest` below is only the time still waited for it after.
    const stopDigest = new AbortController();
    const digest = describeSource(checkpoint, hooks.signal ? AbortSignal.any([hooks.signal, stopDigest.signal]) : stopDigest.signal);
    digest.catch(() => undefined); // awaited below; a failed run leaves no unhandled rejection
    const result = await reconstruct(checkpoint, options, { ...hooks, store, whileEntropy }).catch((e: unknown) => {
      stopDigest.abort();
      throw e;
    });
    const t1 = performance.now();
    const source = await digest;
    const t2 = performance.now();
    const staged = await finishReparameterized(reparameterized, recastMetadata(checkpoint, result, source));
    reparameterized = null;
    if (staged) await staged.commit();
    else await writeReparameterized(checkpoint, result, targets.out, source, io(targets.out));
    if (targets.dense) {
      const staged = dense ?? (await stageDense(checkpoint, result, targets.dense, io(targets.dense)));
      dense = undefined;
      await staged.commit();
    }
    const files = {
      out: path.resolve(targets.out),
      ...(targets.dense ? { dense: path.resolve(targets.dense) } : {}),
      ...(targets.report ? { report: path.resolve(targets.report) } : {}),
    };
    if (targets.report) await writeJsonAtomic(targets.report, reportJson(result, source, files));
    const timing = { reconstruct: (t1 - t0) / 1000, digest: (t2 - t1) / 1000, write: (performance.now() - t2) / 1000, writeDuringEntropy };
    return { result, source, files, timing };
  } finally {
    // A run that failed after the dense file was written leaves it nowhere.
    await (dense as StagedFile | undefined)?.discard();
    await (reparameterized as StagedData | null)?.discard();
    await store.dispose();
  }
}
