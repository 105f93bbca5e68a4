// Reading a group's members from a checkpoint: whole (one read each), or in column chunks of all
// members at once, so that the closed form also fits groups larger than memory (two passes).
import { HOST_LITTLE_ENDIAN, decodeFloat32Into } from '../safetensors/dtypes';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { energyShares, type GroupFit } from './fitting';
import type { BankPlan } from './grouping';
import { ReconstructError } from './errors';
import { type Scratch } from './scratch';
import { accumulateGram, repeatSets, solveGram, writeTemplates, type Objective } from './spectral';
import { GroupGramOnGpu } from './groupGramGpu';
import type { Backend } from './types';

/** Elements per member read at a time when streaming. */
export const STREAM_CHUNK = 1 << 20;

/**
 * The index of the first NaN or Inf in `values`, or -1. From the bits, four at a time and without a
 * branch per value (half the time of a Number.isFinite loop): a float32 is not finite exactly when
 * its exponent bits are all ones, and adding one to that exponent field carries into the sign bit.
 */
export function firstNonFinite(values: Float32Array): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const quads = bits.length & ~3;
  const EXP = 0x7f800000;
  const ONE = 0x00800000;
  let carry = 0;
  for (let i = 0; i < quads; i += 4)
    carry |= ((bits[i] & EXP) + ONE) | ((bits[i + 1] & EXP) + ONE) | ((bits[i + 2] & EXP) + ONE) | ((bits[i + 3] & EXP) + ONE);
  for (let i = quads; i < bits.length; i++) carry |= (bits[i] & EXP) + ONE;
  if ((carry & 0x80000000) === 0) return -1;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** One NaN or Inf would turn the whole group's Gram matrix, and so every member, into NaN. */
function checkFinite(values: Float32Array, info: TensorInfo, offset: number, role: string): void {
  const i = firstNonFinite(values);
  if (i < 0) return;
  throw new ReconstructError(
    'non-finite-weights',
    `${info.name} at element ${offset + i}; leave its role out with --modules (it is "${role}")`,
    info.file,
  );
}

export function memberInfos(checkpoint: Checkpoint, bank: BankPlan): TensorInfo[] {
  return bank.members.map((name) => {
    const info = checkpoint.tensor(name);
    if (!info) throw new ReconstructError('tensor-vanished', name, checkpoint.path);
    return info;
  });
}

/**
 * Elements [start, end) of a member as float32, into `out` (end - start long). float32 sources are
 * read straight into it; others through one reused byte slot of `scratch`, STREAM_CHUNK elements at
 * a time (so a 16-bit member never has its whole encoding held beside its float32 values).
 */
export async function readFloat32Into(
  checkpoint: Checkpoint,
  info: TensorInfo,
  out: Float32Array,
  scratch: Scratch,
  start = 0,
  end = info.params,
): Promise<Float32Array> {
  const size = info.bytes / info.params;
  if (info.dtype === 'F32' && HOST_LITTLE_ENDIAN) {
    await checkpoint.readBytes(info, start * size, end * size, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    return out;
  }
  const raw = scratch.bytes('raw', Math.min(end - start, STREAM_CHUNK) * size);
  for (let at = start; at < end; at += STREAM_CHUNK) {
    const to = Math.min(end, at + STREAM_CHUNK);
    const bytes = await checkpoint.readBytes(info, at * size, to * size, raw.subarray(0, (to - at) * size));
    decodeFloat32Into(info.dtype, bytes, out.subarray(at - start, to - start));
  }
  return out;
}

/** A whole member, finite-checked, into `out`. */
export async function readMember(
  checkpoint: Checkpoint,
  info: TensorInfo,
  role: string,
  out: Float32Array,
  scratch: Scratch,
): Promise<Float32Array> {
  await readFloat32Into(checkpoint, info, out, scratch);
  checkFinite(out, info, 0, role);
  return out;
}

/** The closed form over chunks: pass 1 accumulates G, pass 2 writes the templates. */
export async function fitSpectralStreaming(
  checkpoint: Checkpoint,
  bank: BankPlan,
  objective: Objective,
  roles: readonly string[],
  scratch: Scratch,
  signal?: AbortSignal,
  chunk = STREAM_CHUNK,
  /** webgpu: G from the chunks' products on the GPU (groupGramGpu.ts), float64 when its check rejects it. */
  backend: Backend = 'auto',
): Promise<GroupFit> {
  const infos = memberInfos(checkpoint, bank);
  const L = infos.length;
  const d = bank.size;
  const g = new Float64Array(L * L);
  // One chunk slot per member; members are read one after another (the raw byte slot is shared).
  const readChunks = async (at: number, end: number): Promise<Float32Array[]> => {
    const parts: Float32Array[] = [];
    for (const [l, info] of infos.entries())
      parts.push(await readFloat32Into(checkpoint, info, scratch.floats(`chunk${l}`, end - at), scratch, at, end));
    return parts;
  };
  const gpu = await GroupGramOnGpu.start(backend, L, L * d);
  for (let at = 0; at < d; at += chunk) {
    signal?.throwIfAborted();
    const end = Math.min(d, at + chunk);
    const parts = await readChunks(at, end);
    parts.forEach((p, l) => checkFinite(p, infos[l], at, roles[l]));
    if (gpu) await gpu.add(parts);
    else accumulateGram(g, parts);
  }
  const fromGpu = gpu?.finish() ?? null;
  if (fromGpu) g.set(fromGpu);
  else if (gpu) {
    // The float32 check rejected the GPU's product: one more pass, in float64.
    for (let at = 0; at < d; at += chunk) {
      signal?.throwIfAborted();
      accumulateGram(g, await readChunks(at, Math.min(d, at + chunk)));
    }
  }
  const sol = solveGram(g, L, bank.templates, objective);
  const templates = scratch.floats('templates', sol.n * d);
  for (let at = 0; at < d; at += chunk) {
    signal?.throwIfAborted();
    const end = Math.min(d, at + chunk);
    writeTemplates(templates, d, sol, await readChunks(at, end), at);
  }
  const coefficients = infos.map((_, l) => repeatSets(sol.alpha, l, sol.n, bank.sets));
  return {
    templates,
    coefficients,
    n: sol.n,
    rank: sol.rank,
    loss: Number.NaN,
    backend: fromGpu ? 'webgpu' : 'js-float64',
    energy: energyShares(sol.eigenvalues, sol.n),
  };
}
