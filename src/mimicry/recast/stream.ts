// Reading a group's members from a checkpoint: whole (one read each), or in column chunks of all
// members at once, so that the closed form also fits groups larger than memory (two passes).
import { decode } from '../safetensors/dtypes';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { abortError, type GroupFit } from './fitting';
import type { BankPlan } from './grouping';
import { ReconstructError } from './options';
import { accumulateGram, repeatSets, solveGram, writeTemplates, type Objective } from './spectral';

/** Elements per member read at a time when streaming. */
export const STREAM_CHUNK = 1 << 20;

function toFloat32(v: Float32Array | Float64Array): Float32Array {
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/** One NaN or Inf would turn the whole group's Gram matrix, and so every member, into NaN. */
function checkFinite(values: Float32Array, info: TensorInfo, offset: number, role: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new ReconstructError(`${info.name} contains NaN or Inf (element ${offset + i}); leave its role out with --modules (it is "${role}")`);
    }
  }
}

export function memberInfos(checkpoint: Checkpoint, bank: BankPlan): TensorInfo[] {
  return bank.members.map((name) => {
    const info = checkpoint.tensor(name);
    if (!info) throw new ReconstructError(`tensor ${name} disappeared from ${checkpoint.path}`);
    return info;
  });
}

export async function readMember(checkpoint: Checkpoint, info: TensorInfo, role: string): Promise<Float32Array> {
  const f = toFloat32(await checkpoint.readValues(info));
  checkFinite(f, info, 0, role);
  return f;
}

async function readChunk(checkpoint: Checkpoint, info: TensorInfo, start: number, end: number): Promise<Float32Array> {
  const size = info.bytes / info.params;
  return toFloat32(decode(info.dtype, await checkpoint.readBytes(info, start * size, end * size)));
}

/** The closed form over chunks: pass 1 accumulates G, pass 2 writes the templates. */
export async function fitSpectralStreaming(
  checkpoint: Checkpoint,
  bank: BankPlan,
  objective: Objective,
  roles: readonly string[],
  signal?: AbortSignal,
  chunk = STREAM_CHUNK,
): Promise<GroupFit> {
  const infos = memberInfos(checkpoint, bank);
  const L = infos.length;
  const d = bank.size;
  const g = new Float64Array(L * L);
  for (let at = 0; at < d; at += chunk) {
    if (signal?.aborted) throw abortError();
    const end = Math.min(d, at + chunk);
    const parts = await Promise.all(infos.map((info) => readChunk(checkpoint, info, at, end)));
    parts.forEach((p, l) => checkFinite(p, infos[l], at, roles[l]));
    accumulateGram(g, parts);
  }
  const sol = solveGram(g, L, bank.templates, objective);
  const templates = new Float32Array(sol.n * d);
  for (let at = 0; at < d; at += chunk) {
    if (signal?.aborted) throw abortError();
    const end = Math.min(d, at + chunk);
    const parts = await Promise.all(infos.map((info) => readChunk(checkpoint, info, at, end)));
    writeTemplates(templates, d, sol, parts, at);
  }
  const coefficients = infos.map((_, l) => repeatSets(sol.alpha, l, sol.n, bank.sets));
  return { templates, coefficients, n: sol.n, rank: sol.rank, loss: Number.NaN, backend: 'js-float64' };
}
