// The members of a task family and what each one changes: PEFT LoRA adapters, mlx-lm LoRA adapters
// and full checkpoints of one base (docs/RECAST.md section 6.1). Each member becomes a map from
// module name to its layer update, in the base weight's stored orientation; factors are read once
// (they are small), dense differences W - W_base are read from disk when asked, a row block at a time.
import { readFile, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { openCheckpoint } from '../safetensors/reader';
import { decode } from '../safetensors/dtypes';
import type { Checkpoint, TensorInfo } from '../safetensors/types';
import { isPositiveInt } from '../positiveInt';
import { FamilyError } from './errors';
import type { DenseUpdate, FactorUpdate, LayerUpdate } from './updates';

export type MemberKind = 'peft-lora' | 'mlx-lora' | 'full';

export interface MemberLayer {
  /** Module name: PEFT's `base_model.model.` prefix and the `.lora_A.weight` style suffix dropped. */
  readonly name: string;
  /** The base weight's stored shape. */
  readonly shape: readonly number[];
  readonly update: LayerUpdate;
  /** Parameters the member stores for this layer (both factors, or the whole weight). */
  readonly params: number;
  /** A LoRA layer's factor tensors, as named in its file (A first). */
  readonly factors?: readonly [string, string];
}

export interface FamilyMember {
  /** Shortest trailing part of its path that tells it from the other members. */
  name: string;
  /** The path as given (a folder or a file). */
  readonly path: string;
  /** The safetensors file read. */
  readonly file: string;
  readonly kind: MemberKind;
  /** Training step from a `checkpoint-N`, `step-N` or mlx-lm `N_adapters` name; null otherwise. */
  readonly step: number | null;
  /** The folder holding that name: snapshots of one run share it. Null without a step. */
  readonly run: string | null;
  /** base_model_name_or_path (PEFT) or model (mlx-lm), when the config names it. */
  readonly baseModel: string | null;
  readonly layers: ReadonlyMap<string, MemberLayer>;
  /** Every parameter of the member's file. */
  readonly params: number;
  /** Size of the member's safetensors file(s) on disk. */
  readonly bytes: number;
  /** Tensors that are not read as layer updates (a saved head, LoRA biases, ...). */
  readonly ignored: readonly string[];
}

/** The base checkpoint: open while a family holds dense updates that read from it. */
export interface FamilyBase {
  readonly path: string;
  readonly checkpoint: Checkpoint;
  /** Base weight of a module name, matched by name (dotted suffixes allowed) and shape. */
  weightOf(module: string): TensorInfo | undefined;
}

export interface LoadedFamily {
  readonly members: readonly FamilyMember[];
  readonly base: FamilyBase | null;
  close(): Promise<void>;
}

export interface LoadFamilyOptions {
  /** The base checkpoint: needed by full checkpoints, and for norms relative to the base. */
  readonly base?: string;
  readonly signal?: AbortSignal;
}

/** File names looked for, in order, in a member folder. */
export const MEMBER_FILES = ['adapter_model.safetensors', 'adapters.safetensors', 'model.safetensors', 'model.safetensors.index.json'];
const CONFIG = 'adapter_config.json';
const MAX_CONFIG_BYTES = 1 << 20;

const PEFT_FACTOR = /^(.*)\.lora_(A|B)\.weight$/;
const PEFT_EMBEDDING_FACTOR = /^(.*)\.lora_embedding_(A|B)$/;
const MLX_FACTOR = /^(.*)\.lora_(a|b)$/;
const STEP_NAMES = [/^(?:checkpoint|step|global_step|global-step)[-_]?(\d+)$/i, /^(\d+)_adapters$/];

/** Training step from the file's or its folders' names (nearest first), or null. */
export function stepOf(file: string): number | null {
  return snapshotOf(file)?.step ?? null;
}

/**
 * A training snapshot's step and run: N of the nearest `checkpoint-N` / `step-N` / `N_adapters`
 * name among the file and its two parent folders, and the folder that holds that name (the run).
 */
export function snapshotOf(file: string): { step: number; run: string } | null {
  const abs = path.resolve(file);
  const parts = abs.split(path.sep);
  for (let i = parts.length - 1; i >= Math.max(1, parts.length - 3); i--) {
    const stem = parts[i].replace(/\.safetensors(\.index\.json)?$/, '');
    for (const re of STEP_NAMES) {
      const m = re.exec(stem);
      if (m) return { step: Number(m[1]), run: parts.slice(0, i).join(path.sep) || path.sep };
    }
  }
  return null;
}

/** The safetensors file of a member path: the path itself, or the first known name in a folder. */
async function memberFile(given: string): Promise<string> {
  const st = await stat(given);
  if (!st.isDirectory()) return given;
  for (const name of MEMBER_FILES) {
    const candidate = path.join(given, name);
    try {
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not there: try the next name
    }
  }
  throw new FamilyError('member-not-found', undefined, given);
}

async function readConfig(file: string): Promise<Record<string, unknown> | null> {
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (!st.isFile()) throw new FamilyError('adapter-config-invalid', 'not a regular file', file);
  if (st.size > MAX_CONFIG_BYTES) throw new FamilyError('adapter-config-invalid', `${st.size} bytes is over the 1 MiB limit`, file);
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new FamilyError('adapter-config-invalid', e instanceof Error ? e.message : String(e), file);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new FamilyError('adapter-config-invalid', 'not a JSON object', file);
  return doc as Record<string, unknown>;
}

/** PEFT's LoRA settings that decide a layer's update. */
export interface PeftLoraConfig {
  readonly r: number;
  readonly loraAlpha: number;
  readonly useRslora: boolean;
  readonly fanInFanOut: boolean;
  readonly rankPattern: ReadonlyMap<string, number>;
  readonly alphaPattern: ReadonlyMap<string, number>;
  readonly baseModel: string | null;
}

function invalid(file: string, detail: string): never {
  throw new FamilyError('adapter-config-invalid', detail, file);
}

function numberField(doc: Record<string, unknown>, key: string, fallback: number, file: string, positiveInteger: boolean): number {
  const v = doc[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || (positiveInteger && !isPositiveInt(v)))
    invalid(file, `${key} must be ${positiveInteger ? 'a positive integer' : 'a finite number'}, got ${JSON.stringify(v)}`);
  return v;
}

function boolField(doc: Record<string, unknown>, key: string, file: string): boolean {
  const v = doc[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') invalid(file, `${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function patternField(doc: Record<string, unknown>, key: string, file: string, positiveInteger: boolean): Map<string, number> {
  const v = doc[key];
  const out = new Map<string, number>();
  if (v === undefined || v === null) return out;
  if (typeof v !== 'object' || Array.isArray(v)) invalid(file, `${key} must be an object of pattern: number`);
  for (const [k, n] of Object.entries(v as Record<string, unknown>)) {
    if (typeof n !== 'number' || !Number.isFinite(n) || (positiveInteger && !isPositiveInt(n)))
      invalid(file, `${key}[${JSON.stringify(k)}] must be ${positiveInteger ? 'a positive integer' : 'a finite number'}`);
    try {
      patternRegExp(k);
    } catch (e) {
      invalid(file, `${key} key ${JSON.stringify(k)} is not a regular expression (${e instanceof Error ? e.message : String(e)})`);
    }
    out.set(k, n);
  }
  return out;
}

/**
 * A quantified group that itself holds a quantifier or an alternation (`(a+)+`, `(a|a)*`) can
 * backtrack exponentially on a hostile module name: such pattern keys are refused rather than run.
 */
function nestedQuantifier(key: string): boolean {
  const groups: boolean[] = []; // per open group: does it hold a quantifier or an alternation?
  for (let i = 0; i < key.length; i++) {
    const c = key[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '(') groups.push(false);
    else if (c === ')') {
      const quantified = groups.pop() ?? false;
      const next = key[i + 1];
      if (quantified && (next === '*' || next === '+' || next === '{')) return true;
      if (groups.length > 0 && (quantified || next === '*' || next === '+' || next === '{' || next === '?'))
        groups[groups.length - 1] = true;
    } else if ((c === '*' || c === '+' || c === '{' || c === '|') && groups.length > 0) groups[groups.length - 1] = true;
  }
  return false;
}

/** PEFT matches a pattern key against the module name as re.match(rf"(.*\.)?({key})$", name). */
function patternRegExp(key: string): RegExp {
  if (key.length > 1000 || nestedQuantifier(key)) throw new Error('a nested quantifier or an over-long key could run for ever');
  return new RegExp(`^(?:.*\\.)?(?:${key})$`);
}

/** The value of the first pattern (in the config's order) that matches the module, as PEFT picks it. */
export function patternValue(patterns: ReadonlyMap<string, number>, module: string): number | undefined {
  for (const [key, value] of patterns) if (patternRegExp(key).test(module)) return value;
  return undefined;
}

export function parsePeftConfig(doc: Record<string, unknown>, file: string): PeftLoraConfig {
  const type = doc.peft_type;
  if (type !== undefined && type !== null && (typeof type !== 'string' || type.toUpperCase() !== 'LORA'))
    throw new FamilyError('adapter-unsupported', `peft_type is ${JSON.stringify(type)}`, file);
  if (boolField(doc, 'use_dora', file)) throw new FamilyError('dora-unsupported', 'use_dora is true', file);
  const base = doc.base_model_name_or_path;
  return {
    r: numberField(doc, 'r', 8, file, true),
    loraAlpha: numberField(doc, 'lora_alpha', 8, file, false),
    useRslora: boolField(doc, 'use_rslora', file),
    fanInFanOut: boolField(doc, 'fan_in_fan_out', file),
    rankPattern: patternField(doc, 'rank_pattern', file, true),
    alphaPattern: patternField(doc, 'alpha_pattern', file, false),
    baseModel: typeof base === 'string' && base.length > 0 ? base : null,
  };
}

/** PEFT's scaling of one module: alpha / r, or alpha / sqrt(r) with use_rslora, patterns applied. */
export function peftScale(config: PeftLoraConfig, module: string): { r: number; scale: number } {
  const r = patternValue(config.rankPattern, module) ?? config.r;
  const alpha = patternValue(config.alphaPattern, module) ?? config.loraAlpha;
  return { r, scale: config.useRslora ? alpha / Math.sqrt(r) : alpha / r };
}

async function readFactor(ck: Checkpoint, t: TensorInfo): Promise<Float64Array> {
  const raw = await ck.readValues(t);
  const out = raw instanceof Float64Array ? raw : Float64Array.from(raw);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw new FamilyError('non-finite-update', `${JSON.stringify(t.name)} holds ${out[i]}`, ck.path);
  }
  return out;
}

/** Row-major transpose of a rows x cols matrix, each entry times `scale`. */
function transposed(a: Float64Array, rows: number, cols: number, scale = 1): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j] * scale;
  return out;
}

function scaled(a: Float64Array, scale: number): Float64Array {
  return scale === 1 ? a : a.map((x) => x * scale);
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

interface FactorPair {
  a?: TensorInfo;
  b?: TensorInfo;
  embedding: boolean;
}

function collectPairs(ck: Checkpoint, patterns: readonly RegExp[], upper: string): { pairs: Map<string, FactorPair>; ignored: string[] } {
  const pairs = new Map<string, FactorPair>();
  const ignored: string[] = [];
  for (const t of ck.tensors) {
    let matched = false;
    for (const [i, re] of patterns.entries()) {
      const m = re.exec(t.name);
      if (!m) continue;
      matched = true;
      const module = m[1].startsWith('base_model.model.') ? m[1].slice('base_model.model.'.length) : m[1];
      const pair = pairs.get(module) ?? { embedding: i === 1 };
      if (m[2] === upper || m[2] === upper.toLowerCase()) pair.a = t;
      else pair.b = t;
      pairs.set(module, pair);
      break;
    }
    if (!matched) ignored.push(t.name);
  }
  return { pairs, ignored };
}

function incomplete(file: string, module: string, detail: string): never {
  throw new FamilyError('lora-pair-incomplete', `${module}: ${detail}`, file);
}

/** PEFT: dW = scale * B @ A, transposed when fan_in_fan_out (and always for embeddings). */
async function peftLayers(
  ck: Checkpoint,
  config: PeftLoraConfig,
  configFile: string,
): Promise<{ layers: MemberLayer[]; ignored: string[] }> {
  const { pairs, ignored } = collectPairs(ck, [PEFT_FACTOR, PEFT_EMBEDDING_FACTOR], 'A');
  const layers: MemberLayer[] = [];
  for (const [module, pair] of pairs) {
    if (!pair.a || !pair.b) incomplete(ck.path, module, `${pair.a ? 'lora_B' : 'lora_A'} is missing`);
    const a = pair.a;
    const b = pair.b;
    const { r, scale } = peftScale(config, module);
    const rank = a.shape[0];
    if (a.shape.length < 2 || b.shape.length < 2 || b.shape[1] !== rank || b.shape.slice(2).some((s) => s !== 1))
      incomplete(ck.path, module, `lora_A ${shapeText(a.shape)} and lora_B ${shapeText(b.shape)} do not multiply`);
    if (rank !== r)
      invalid(configFile, `${module}: the config gives rank ${r} (r or rank_pattern), its lora_A ${shapeText(a.shape)} has rank ${rank}`);
    const out = b.shape[0];
    const inner = product(a.shape.slice(1));
    const A = await readFactor(ck, a); // r x inner
    const B = await readFactor(ck, b); // out x r
    let update: FactorUpdate;
    let shape: number[];
    if (pair.embedding || config.fanInFanOut) {
      // (B A)^T = A^T B^T: rows are A's columns.
      if (a.shape.length > 2) incomplete(ck.path, module, `fan_in_fan_out with a ${a.shape.length}-d lora_A`);
      update = { kind: 'factors', rows: inner, cols: out, rank, u: transposed(A, rank, inner), v: scaled(B, scale) };
      shape = [inner, out];
    } else {
      update = { kind: 'factors', rows: out, cols: inner, rank, u: scaled(B, scale), v: transposed(A, rank, inner) };
      shape = [out, ...a.shape.slice(1)];
    }
    layers.push({ name: module, shape, update, params: a.params + b.params, factors: [a.name, b.name] });
  }
  return { layers, ignored };
}

/** mlx-lm: y = x W^T + scale * (x @ lora_a) @ lora_b, so dW = scale * lora_b^T @ lora_a^T ([out, in]). */
async function mlxLayers(
  ck: Checkpoint,
  doc: Record<string, unknown>,
  configFile: string,
): Promise<{ layers: MemberLayer[]; ignored: string[] }> {
  const type = doc.fine_tune_type;
  if (type === 'dora' || doc.use_dora === true) throw new FamilyError('dora-unsupported', 'fine_tune_type is "dora"', configFile);
  if (type !== undefined && type !== 'lora')
    throw new FamilyError('adapter-unsupported', `fine_tune_type is ${JSON.stringify(type)}`, configFile);
  const params = doc.lora_parameters;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) invalid(configFile, 'lora_parameters must be an object');
  const p = params as Record<string, unknown>;
  if (typeof p.scale !== 'number' || !Number.isFinite(p.scale)) invalid(configFile, 'lora_parameters.scale must be a finite number');
  const scale = p.scale;
  const configRank = p.rank === undefined ? undefined : numberField(p, 'rank', 0, configFile, true);
  const { pairs, ignored } = collectPairs(ck, [MLX_FACTOR], 'A');
  const layers: MemberLayer[] = [];
  for (const [module, pair] of pairs) {
    if (!pair.a || !pair.b) incomplete(ck.path, module, `${pair.a ? 'lora_b' : 'lora_a'} is missing`);
    const a = pair.a; // [in, r]
    const b = pair.b; // [r, out]
    if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0])
      incomplete(ck.path, module, `lora_a ${shapeText(a.shape)} and lora_b ${shapeText(b.shape)} do not multiply`);
    const [inDim, rank] = a.shape;
    const out = b.shape[1];
    if (configRank !== undefined && configRank !== rank)
      invalid(configFile, `${module}: lora_parameters.rank is ${configRank}, its lora_a ${shapeText(a.shape)} has rank ${rank}`);
    const A = await readFactor(ck, a);
    const B = await readFactor(ck, b);
    const update: FactorUpdate = { kind: 'factors', rows: out, cols: inDim, rank, u: transposed(B, rank, out, scale), v: A };
    layers.push({ name: module, shape: [out, inDim], update, params: a.params + b.params, factors: [a.name, b.name] });
  }
  return { layers, ignored };
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

/** A full checkpoint: every float weight of 2 or more dimensions the base also has, as W - W_base. */
function fullLayers(ck: Checkpoint, base: FamilyBase): { layers: MemberLayer[]; ignored: string[] } {
  const layers: MemberLayer[] = [];
  const ignored: string[] = [];
  for (const t of ck.tensors) {
    if (t.shape.length < 2 || !FLOAT_DTYPES.has(t.dtype) || t.params === 0) {
      ignored.push(t.name);
      continue;
    }
    const module = t.name.endsWith('.weight') ? t.name.slice(0, -'.weight'.length) : t.name;
    const w = base.weightOf(module) ?? base.checkpoint.tensor(t.name);
    if (!w) {
      ignored.push(t.name);
      continue;
    }
    if (shapeText(w.shape) !== shapeText(t.shape))
      throw new FamilyError('mixed-bases', `${t.name} is ${shapeText(t.shape)}, the base's ${w.name} is ${shapeText(w.shape)}`, ck.path);
    const rows = t.shape[0];
    const cols = t.params / rows;
    const update: DenseUpdate = {
      kind: 'dense',
      rows,
      cols,
      async rowBlock(start, end, signal) {
        signal?.throwIfAborted();
        const mine = await readRows(ck, t, start, end, cols);
        const theirs = await readRows(base.checkpoint, w, start, end, cols);
        const out = new Float64Array(mine.length);
        for (let i = 0; i < out.length; i++) {
          const d = mine[i] - theirs[i];
          if (!Number.isFinite(d)) {
            const which = Number.isFinite(mine[i]) ? `the base's ${JSON.stringify(w.name)}` : JSON.stringify(t.name);
            throw new FamilyError('non-finite-update', `${which} holds ${Number.isFinite(mine[i]) ? theirs[i] : mine[i]}`, ck.path);
          }
          out[i] = d;
        }
        return out;
      },
    };
    layers.push({ name: module, shape: [...t.shape], update, params: t.params });
  }
  return { layers, ignored };
}

/** A stored weight read as float64 row blocks (the base's W in the full-weights fit); NaN or infinity is refused. */
export function storedWeight(ck: Checkpoint, t: TensorInfo): DenseUpdate {
  const rows = t.shape[0] ?? 1;
  const cols = t.params / Math.max(1, rows);
  return {
    kind: 'dense',
    rows,
    cols,
    async rowBlock(start, end, signal) {
      signal?.throwIfAborted();
      const out = Float64Array.from(await readRows(ck, t, start, end, cols));
      for (const v of out)
        if (!Number.isFinite(v)) throw new FamilyError('non-finite-update', `${JSON.stringify(t.name)} holds ${v}`, ck.path);
      return out;
    },
  };
}

async function readRows(ck: Checkpoint, t: TensorInfo, start: number, end: number, cols: number) {
  const size = t.bytes / t.params;
  return decode(t.dtype, await ck.readBytes(t, start * cols * size, end * cols * size));
}

/** Base weights by module name: `<module>.weight` itself, else the one base name that shares the longest dotted tail. */
async function openBase(file: string, signal?: AbortSignal): Promise<FamilyBase> {
  const checkpoint = await openCheckpoint(file, { signal });
  const bySuffix = new Map<string, TensorInfo[]>();
  for (const t of checkpoint.tensors) {
    const parts = t.name.split('.');
    for (let i = 0; i < parts.length - 1; i++) {
      const key = parts.slice(i).join('.');
      const list = bySuffix.get(key) ?? [];
      list.push(t);
      bySuffix.set(key, list);
    }
  }
  return {
    path: file,
    checkpoint,
    weightOf(module: string) {
      const own = checkpoint.tensor(`${module}.weight`);
      if (own) return own;
      // PEFT names the module inside its wrapper (`transformer.h.0...`), a base file may not (`h.0...`), or the reverse.
      // A dropped part may not be a block index: h.1's weight is never h.0's.
      const parts = `${module}.weight`.split('.');
      const firstIndex = parts.findIndex((p) => /^\d+$/.test(p));
      const last = firstIndex >= 0 ? firstIndex : parts.length - 2;
      for (let i = 0; i <= last; i++) {
        const hits = bySuffix.get(parts.slice(i).join('.'));
        if (hits && hits.length === 1) return hits[0];
        if (hits && hits.length > 1) return undefined;
      }
      return undefined;
    },
  };
}

/** Display names: the shortest trailing path parts (file names like adapter_model.safetensors left out) that differ. */
function nameMembers(members: FamilyMember[]): void {
  const parts = members.map((m) => {
    const p = path
      .resolve(m.path)
      .split(path.sep)
      .filter((s) => s.length > 0);
    const last = p[p.length - 1];
    if (p.length > 1 && MEMBER_FILES.includes(last)) p.pop();
    else p[p.length - 1] = last.replace(/\.safetensors(\.index\.json)?$/, '');
    return p;
  });
  const longest = parts.reduce((n, p) => Math.max(n, p.length), 1);
  for (let k = 1; k <= longest; k++) {
    const names = parts.map((p) => p.slice(-k).join('/'));
    if (new Set(names).size === names.length || k === longest) {
      members.forEach((m, i) => (m.name = names[i]));
      return;
    }
  }
}

/** A LoRA adapter's layer updates (docs/RECAST.md section 6.1). */
export interface AdapterUpdates {
  readonly kind: 'peft-lora' | 'mlx-lora';
  readonly layers: readonly MemberLayer[];
  /** Tensors that are not factors (a saved head, LoRA biases, ...). */
  readonly ignored: readonly string[];
  readonly baseModel: string | null;
}

/** Which LoRA adapter tensor names these are (PEFT's lora_A / lora_B, mlx-lm's lora_a / lora_b), or null. */
export function loraKind(names: readonly string[]): AdapterUpdates['kind'] | null {
  if (names.some((n) => PEFT_FACTOR.test(n) || PEFT_EMBEDDING_FACTOR.test(n))) return 'peft-lora';
  if (names.some((n) => MLX_FACTOR.test(n))) return 'mlx-lora';
  return null;
}

/**
 * The layer updates of an open checkpoint when it is a PEFT or mlx-lm LoRA adapter (it holds LoRA
 * factors), read from its factors and the adapter_config.json beside it; null when it holds none.
 * A bad config, a DoRA adapter or an incomplete pair is refused (FamilyError).
 */
export async function readAdapter(ck: Checkpoint): Promise<AdapterUpdates | null> {
  const file = ck.path;
  const names = ck.tensors.map((t) => t.name);
  const configFile = path.join(path.dirname(file), CONFIG);
  const kind = loraKind(names);
  if (!kind) return null;
  const isPeft = kind === 'peft-lora';
  const isMlx = !isPeft;
  const dora = names.find((n) => /lora_magnitude_vector/.test(n) || (isMlx && /\.m$/.test(n)));
  const doc = await readConfig(configFile);
  if (!doc) throw new FamilyError('adapter-config-missing', `no ${CONFIG} in ${path.dirname(file)}`, file);
  if (isPeft) {
    const config = parsePeftConfig(doc, configFile);
    if (dora) throw new FamilyError('dora-unsupported', `it holds ${JSON.stringify(dora)}`, file);
    return { kind: 'peft-lora', baseModel: config.baseModel, ...(await peftLayers(ck, config, configFile)) };
  }
  if (dora) throw new FamilyError('dora-unsupported', `it holds ${JSON.stringify(dora)}`, file);
  const loaded = await mlxLayers(ck, doc, configFile);
  return { kind: 'mlx-lora', baseModel: typeof doc.model === 'string' && doc.model.length > 0 ? doc.model : null, ...loaded };
}

async function loadMember(given: string, base: FamilyBase | null): Promise<{ member: FamilyMember; checkpoint: Checkpoint }> {
  const file = await memberFile(given);
  const ck = await openCheckpoint(file);
  try {
    let kind: MemberKind;
    let loaded: { layers: readonly MemberLayer[]; ignored: readonly string[] };
    let baseModel: string | null = null;
    const adapter = await readAdapter(ck);
    if (adapter) {
      ({ kind, baseModel } = adapter);
      loaded = adapter;
    } else {
      if (!base) throw new FamilyError('base-required', 'it holds no LoRA factors, so it is read as a full checkpoint', file);
      kind = 'full';
      loaded = fullLayers(ck, base);
    }
    const member: FamilyMember = {
      name: given,
      path: given,
      file,
      kind,
      step: snapshotOf(file)?.step ?? null,
      run: snapshotOf(file)?.run ?? null,
      baseModel,
      layers: new Map(loaded.layers.map((l) => [l.name, l])),
      params: ck.tensors.reduce((s, t) => s + t.params, 0),
      bytes: ck.totalBytes,
      ignored: loaded.ignored,
    };
    return { member, checkpoint: ck };
  } catch (e) {
    await ck.close();
    throw e;
  }
}

/**
 * Opens every member (and the base). Full checkpoints stay open (their updates are read later);
 * adapters are closed once their factors are read. close() releases everything.
 */
export async function loadFamily(paths: readonly string[], opts: LoadFamilyOptions = {}): Promise<LoadedFamily> {
  if (paths.length < 2) throw new FamilyError('family-too-small', `${paths.length} given`, paths[0]);
  const open: Checkpoint[] = [];
  const closeAll = async () => {
    await Promise.allSettled(open.map((c) => c.close()));
  };
  try {
    const base = opts.base !== undefined ? await openBase(opts.base, opts.signal) : null;
    if (base) open.push(base.checkpoint);
    const members: FamilyMember[] = [];
    const seen = new Map<string, string>();
    for (const given of paths) {
      opts.signal?.throwIfAborted();
      const { member, checkpoint } = await loadMember(given, base);
      const real = await realpath(member.file);
      const twin = seen.get(real);
      if (twin !== undefined) {
        await checkpoint.close();
        throw new FamilyError('duplicate-member', `also given as ${twin}`, given);
      }
      seen.set(real, given);
      if (member.kind === 'full') open.push(checkpoint);
      else await checkpoint.close();
      members.push(member);
    }
    nameMembers(members);
    return { members, base, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
