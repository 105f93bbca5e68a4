// The task bank export (docs/FORMAT.md section 8): one safetensors file holding, per bank of a
// family's shared layers, the n shared update templates of the closed form and every member's
// coefficients, so that each member's update of each shared layer is rebuilt as sum_t C[t] T[t].
// Templates are built a row block at a time from the updates (a LoRA update is never formed whole)
// and one bank's templates are held at a time, while the writer asks for them.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { solveGram, writeTemplates, type SpectralSolution } from '../recast/spectral';
import { writeSafetensorsStreaming, type StreamingTensor, type WriteProgress } from '../safetensors/writer';
import { isPositiveInt } from '../positiveInt';
import { checkBaseModels, planBanks, sharedLayers, type PlannedBank } from './analyze';
import { updateGram } from './updateGram';
import { FamilyError } from './errors';
import type { LoadedFamily } from './members';
import { factorRows, type LayerUpdate } from './updates';

export const TASK_BANK_FORMAT = 'recast-taskbank';
export const TASK_BANK_VERSION = '1';
/** The value of `taskbank.rule`: how a member's update comes back (docs/FORMAT.md section 8.3). */
export const TASK_BANK_RULE =
  'update(member m, layer banks[b].layers[i]) = sum over t of taskbank.coefficients.<b>[m, i, t] * taskbank.templates.<b>[t], in float64';

export interface TaskBankOptions {
  /** Templates per bank n; default: the number of members (as the family report). */
  readonly templates?: number;
  /** Grams of the banks by name, as analyzeFamily's onGram gave them (skips computing them again). */
  readonly grams?: ReadonlyMap<string, Float64Array>;
  readonly signal?: AbortSignal;
  readonly onWrite?: (p: WriteProgress) => void;
}

export interface TaskBankMemberDoc {
  readonly name: string;
  readonly kind: string;
  readonly step: number | null;
  /** Base name of the member's safetensors file, its size and parameter count. */
  readonly file: string;
  readonly bytes: number;
  readonly params: number;
  /** Its layers left out of the bank (not every member has them). */
  readonly unshared: readonly string[];
}

export interface TaskBankBankDoc {
  readonly layers: readonly string[];
  readonly shape: readonly number[];
  readonly templates: number;
  readonly rank: number;
}

export interface TaskBankResult {
  readonly path: string;
  /** Size of the written file. */
  readonly bytes: number;
  /** Sum of the members' safetensors files. */
  readonly membersBytes: number;
  /** The same shared layers' updates stored dense in float32, every member (what full fine-tunes would hold). */
  readonly denseBytes: number;
  readonly banks: number;
  /** Template and coefficient values stored. */
  readonly templateValues: number;
  readonly coefficientValues: number;
  /** Per bank and member, the fit's cosine and relative error (as stored in `taskbank.metrics`). */
  readonly metrics: Readonly<Record<string, TaskBankFit>>;
}

export interface TaskBankFit {
  readonly cosine: Readonly<Record<string, number>>;
  readonly relError: Readonly<Record<string, number>>;
}

/** Elements held at once (over all items of a bank) while templates are built. */
const BLOCK_ELEMENTS = 1 << 22;

/** The bank's n templates, [n, rows * cols] row-major, from its updates a row block at a time. */
async function buildTemplates(items: readonly LayerUpdate[], sol: SpectralSolution, signal?: AbortSignal): Promise<Float32Array> {
  const { rows, cols } = items[0];
  const d = rows * cols;
  const out = new Float32Array(sol.n * d);
  const step = Math.max(1, Math.floor(BLOCK_ELEMENTS / (items.length * Math.max(1, cols))));
  for (let start = 0; start < rows; start += step) {
    signal?.throwIfAborted();
    const end = Math.min(rows, start + step);
    const blocks: Float64Array[] = [];
    for (const it of items) blocks.push(it.kind === 'factors' ? factorRows(it, start, end) : await it.rowBlock(start, end, signal));
    writeTemplates(out, d, sol, blocks, start * cols);
  }
  return out;
}

/**
 * Per member, the cosine and relative error of its updates in the bank against their rebuild
 * sum_t alpha[l,t] T_t with T_t = sum_k weights[k,t] x_k: every inner product from the Gram.
 */
function fitOf(g: Float64Array, L: number, sol: SpectralSolution, M: number, names: readonly string[]): TaskBankFit {
  const { n, weights, alpha } = sol;
  // tt[t,s] = <T_t, T_s>, tx[t,l] = <T_t, x_l>
  const tx = new Float64Array(n * L);
  for (let t = 0; t < n; t++)
    for (let l = 0; l < L; l++) {
      let s = 0;
      for (let k = 0; k < L; k++) s += weights[k * n + t] * g[k * L + l];
      tx[t * L + l] = s;
    }
  const tt = new Float64Array(n * n);
  for (let t = 0; t < n; t++)
    for (let u = 0; u < n; u++) {
      let s = 0;
      for (let l = 0; l < L; l++) s += weights[l * n + u] * tx[t * L + l];
      tt[t * n + u] = s;
    }
  const cosine: Record<string, number> = {};
  const relError: Record<string, number> = {};
  names.forEach((name, mi) => {
    let xx = 0;
    let xf = 0;
    let ff = 0;
    for (let l = mi; l < L; l += M) {
      xx += Math.max(0, g[l * L + l]);
      for (let t = 0; t < n; t++) {
        const a = alpha[l * n + t];
        xf += a * tx[t * L + l];
        for (let u = 0; u < n; u++) ff += a * alpha[l * n + u] * tt[t * n + u];
      }
    }
    cosine[name] = xx <= 0 ? 1 : ff <= 0 ? 0 : Math.max(-1, Math.min(1, xf / Math.sqrt(xx * ff)));
    relError[name] = xx <= 0 ? 0 : Math.sqrt(Math.max(0, xx - 2 * xf + ff) / xx);
  });
  return { cosine, relError };
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Writes the task bank of a loaded family to `out`, atomically (never over a member or the base).
 * The fit is the family report's: per bank the per-layer closed form with n = min(templates, items, rank).
 */
export async function writeTaskBank(family: LoadedFamily, out: string, opts: TaskBankOptions = {}): Promise<TaskBankResult> {
  const { members } = family;
  const M = members.length;
  if (opts.templates !== undefined && !isPositiveInt(opts.templates))
    throw new FamilyError('invalid-family-option', `templates must be a positive integer, got ${opts.templates}`);
  const templates = opts.templates ?? M;
  checkBaseModels(members);
  const { shared, unshared } = sharedLayers(members);
  const banks: PlannedBank[] = planBanks(shared);
  const names = members.map((m) => m.name);

  const entries: StreamingTensor[] = [];
  const bankDocs: Record<string, TaskBankBankDoc> = {};
  const metrics: Record<string, TaskBankFit> = {};
  let templateValues = 0;
  let coefficientValues = 0;
  let denseValues = 0;
  for (const bank of banks) {
    opts.signal?.throwIfAborted();
    const items: LayerUpdate[] = [];
    for (const layer of bank.layers) for (const m of members) items.push((m.layers.get(layer) as { update: LayerUpdate }).update);
    const L = items.length;
    const g = opts.grams?.get(bank.name) ?? (await updateGram(items, opts.signal));
    if (g.length !== L * L) throw new Error(`writeTaskBank: the Gram of ${bank.name} is not ${L} x ${L}`);
    const sol = solveGram(g, L, Math.min(templates, L), 'per-layer');
    const B = bank.layers.length;
    const n = sol.n;
    // coefficients[m, i, t] = alpha of item (layer i, member m)
    const coefficients = new Float32Array(M * B * n);
    for (let i = 0; i < B; i++)
      for (let mi = 0; mi < M; mi++) for (let t = 0; t < n; t++) coefficients[(mi * B + i) * n + t] = sol.alpha[(i * M + mi) * n + t];
    const d = items[0].rows * items[0].cols;
    entries.push({
      name: `taskbank.coefficients.${bank.name}`,
      dtype: 'F32',
      shape: [M, B, n],
      byteLength: coefficients.byteLength,
      bytes: () => Promise.resolve(bytesOf(coefficients)),
    });
    entries.push({
      name: `taskbank.templates.${bank.name}`,
      dtype: 'F32',
      shape: [n, ...bank.shape],
      byteLength: n * d * 4,
      bytes: async () => bytesOf(await buildTemplates(items, sol, opts.signal)),
    });
    bankDocs[bank.name] = { layers: bank.layers, shape: bank.shape, templates: n, rank: sol.rank };
    metrics[bank.name] = fitOf(g, L, sol, M, names);
    templateValues += n * d;
    denseValues += M * B * d;
    coefficientValues += M * B * n;
  }

  const memberDocs: TaskBankMemberDoc[] = members.map((m, mi) => ({
    name: m.name,
    kind: m.kind,
    step: m.step,
    file: path.basename(m.file),
    bytes: m.bytes,
    params: m.params,
    unshared: unshared[mi],
  }));
  const metadata: Record<string, string> = {
    format: TASK_BANK_FORMAT,
    'taskbank.version': TASK_BANK_VERSION,
    'taskbank.rule': TASK_BANK_RULE,
    'taskbank.members': JSON.stringify(memberDocs),
    'taskbank.banks': JSON.stringify(bankDocs),
    'taskbank.fit': JSON.stringify({
      method: 'spectral',
      objective: 'per-layer',
      templates,
      base: family.base ? path.basename(family.base.path) : null,
    }),
    'taskbank.metrics': JSON.stringify(metrics, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)),
  };
  const refuse = [...members.map((m) => m.file), ...(family.base ? [family.base.path] : [])];
  await writeSafetensorsStreaming(out, entries, metadata, { refuse, signal: opts.signal, onProgress: opts.onWrite });
  return {
    path: path.resolve(out),
    bytes: (await stat(out)).size,
    membersBytes: members.reduce((s, m) => s + m.bytes, 0),
    denseBytes: denseValues * 4,
    banks: banks.length,
    templateValues,
    coefficientValues,
    metrics,
  };
}
