// The one schema of a recast file's metadata (docs/FORMAT.md section 2): every key the format
// defines, every field of its JSON documents, every type, checked here and nowhere else. Whatever
// fails it is a RecastFormatError naming the key path (`recast.metrics.layers[3].cosine`), so a
// hostile or damaged file is refused before any reader looks at a value.
//
// What comes out is built field by field from what the schema knows: fields a reader does not know
// are dropped (docs/FORMAT.md section 4), a `__proto__` key is refused wherever the schema reads an
// object, and the one map of arbitrary keys (recast.source_metadata) is filled with a null
// prototype, as the safetensors header parser fills __metadata__.
import { parseJsonChecked } from '../safetensors/header';
import { RecastFormatError } from './errors';
import { BANK_NAME, RECAST_FORMAT, RECAST_VERSION, SOURCE_METADATA_KEY } from './format';
import { BLOCK_INDEXES, type BankDType } from './grouping';
import type { GpuDevice } from '../gpu/webgpu';
import type { BanksJson, MetricsJson, SpectraJson } from './report';
import type { SpectrumKind } from '../dashboard/types';
import {
  LOSSES,
  METHODS,
  OBJECTIVES,
  RUN_PHASES,
  TEMPLATE_DTYPES,
  type BankMetrics,
  type LayerMetrics,
  type MethodRecord,
  type PhaseTimes,
  type Summary,
} from './types';

/** One bank of recast.banks, with its name, in the document's order. */
export interface RecastBankDoc {
  readonly name: string;
  readonly members: readonly string[];
  readonly shape: readonly number[];
  readonly templates: number;
  readonly dtype: BankDType;
}

export interface SourceDigestDoc {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** recast.source (docs/FORMAT.md section 2.4). */
export interface RecastSourceDoc extends SourceDigestDoc {
  readonly shards?: readonly SourceDigestDoc[];
}

/**
 * recast.metrics (docs/FORMAT.md section 2.6). A metric stored as null (the writer's NaN or
 * infinity) reads back as NaN, except the fields whose null is a value of its own (entropy,
 * entropyNormalized, rank).
 */
export interface RecastMetricsDoc {
  readonly layers: readonly LayerMetrics[];
  readonly banks: readonly BankMetrics[];
  readonly summary: Summary & { readonly probeKind?: string };
}

/** Everything a recast file's metadata says, checked. */
export interface RecastMetadata {
  /** K, recast.coefficient_sets. */
  readonly sets: number;
  readonly banks: readonly RecastBankDoc[];
  /** recast.banks as the report document has it (docs/FORMAT.md section 6). */
  readonly banksJson: BanksJson;
  readonly source: RecastSourceDoc;
  readonly method: MethodRecord;
  readonly metrics: RecastMetricsDoc;
  /** recast.source_metadata when the file has it (null prototype; any key is a key). */
  readonly sourceMetadata: Readonly<Record<string, string>> | undefined;
  /** recast.spectra when the file has it (section 2.8): the spectra the dashboard draws, per bank. */
  readonly spectra: readonly RecastSpectraDoc[] | undefined;
}

/** One bank's entry of recast.spectra (docs/FORMAT.md section 2.8). */
export interface RecastSpectraDoc {
  readonly bank: string;
  readonly lines: readonly { readonly label: string; readonly kind: SpectrumKind; readonly values: readonly number[] }[];
  readonly skipped?: string;
}

// The writer's documents must pass the reader's schema: a compile-time check.
const writerMetricsFit = (m: MetricsJson): RecastMetricsDoc => m;
void writerMetricsFit;
const writerSpectraFit = (m: SpectraJson[string]): Omit<RecastSpectraDoc, 'bank'> => m;
void writerSpectraFit;

/** A value that breaks the schema at `path`; turned into a RecastFormatError by readRecastMetadata. */
class Violation extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** A value in words, short: for the detail of a refusal. */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 39)}…` : v)}`;
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : `${v} (out of range)`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}

type Check<T> = (v: unknown, path: string) => T;

const expected = (what: string, v: unknown, path: string): never => {
  throw new Violation(path, `expected ${what}, got ${describe(v)}`);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Record<string, unknown>, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);
const keyPath = (path: string, key: string) => `${path}[${JSON.stringify(key)}]`;

/** An object the schema reads; `__proto__` is refused as a key unless the keys are data (`anyKeys`). */
function object(v: unknown, path: string, anyKeys = false): Record<string, unknown> {
  if (!isObject(v)) expected('an object', v, path);
  const o = v as Record<string, unknown>;
  if (!anyKeys && Object.hasOwn(o, '__proto__')) throw new Violation(keyPath(path, '__proto__'), 'the key "__proto__" is not allowed');
  return o;
}

const field = <T>(o: Record<string, unknown>, path: string, key: string, check: Check<T>): T => check(own(o, key), `${path}.${key}`);
/** A field that may be absent (docs/FORMAT.md marks it with `?`); present, it must pass. */
const optional = <T>(o: Record<string, unknown>, path: string, key: string, check: Check<T>): T | undefined =>
  own(o, key) === undefined ? undefined : check(own(o, key), `${path}.${key}`);

const string: Check<string> = (v, path) => (typeof v === 'string' ? v : expected('a string', v, path));
const boolean: Check<boolean> = (v, path) => (typeof v === 'boolean' ? v : expected('true or false', v, path));

const oneOf =
  <T extends string>(values: readonly T[]): Check<T> =>
  (v, path) =>
    typeof v === 'string' && (values as readonly string[]).includes(v)
      ? (v as T)
      : expected(`one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v, path);

const int =
  (min: number): Check<number> =>
  (v, path) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min ? v : expected(`an integer >= ${min}`, v, path);
const anyInt: Check<number> = (v, path) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : expected('an integer', v, path));

const finite =
  (min = -Infinity): Check<number> =>
  (v, path) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min
      ? v
      : expected(min === -Infinity ? 'a finite number' : `a finite number >= ${min}`, v, path);

/** A measured value: a finite number, or null where the writer had NaN or infinity (read as NaN). */
const metric: Check<number> = (v, path) =>
  v === null ? Number.NaN : typeof v === 'number' && Number.isFinite(v) ? v : expected('a finite number or null', v, path);

const nullable =
  <T>(check: Check<T>): Check<T | null> =>
  (v, path) =>
    v === null ? null : check(v, path);

const either =
  <A, B>(a: Check<A>, b: Check<B>, what: string): Check<A | B> =>
  (v, path) => {
    try {
      return a(v, path);
    } catch (e) {
      if (!(e instanceof Violation)) throw e;
      try {
        return b(v, path);
      } catch (e2) {
        if (!(e2 instanceof Violation)) throw e2;
        return expected(what, v, path);
      }
    }
  };

const arrayOf =
  <T>(check: Check<T>, minLength = 0): Check<T[]> =>
  (v, path) => {
    if (!Array.isArray(v)) return expected(minLength > 0 ? `an array of at least ${minLength}` : 'an array', v, path);
    if (v.length < minLength) throw new Violation(path, `expected at least ${minLength} entries, got ${v.length}`);
    return v.map((x, i) => check(x, `${path}[${i}]`));
  };

/**
 * A map (all own keys of the object) into an object with a null prototype. With `anyKeys` even
 * `__proto__` is a key like any other (the source's own metadata may have one).
 */
const recordOf =
  <T>(check: Check<T>, anyKeys = false): Check<Record<string, T>> =>
  (v, path) => {
    const o = object(v, path, anyKeys);
    const out = Object.create(null) as Record<string, T>;
    for (const [k, x] of Object.entries(o)) out[k] = check(x, keyPath(path, k));
    return out;
  };

// --- docs/FORMAT.md section 2.2: recast.banks -------------------------------------------------

const memberName: Check<string> = (v, path) => {
  const s = string(v, path);
  if (s === '__metadata__') throw new Violation(path, '"__metadata__" cannot name a tensor (safetensors reserves it)');
  return s;
};

function bankEntry(name: string, v: unknown, path: string): RecastBankDoc {
  const o = object(v, path);
  return {
    name,
    members: field(o, path, 'members', arrayOf(memberName, 1)),
    shape: field(o, path, 'shape', arrayOf(int(0), 2)),
    templates: field(o, path, 'templates', int(1)),
    dtype: field(o, path, 'source_dtype', oneOf<BankDType>(['F32', 'F16', 'BF16'])),
  };
}

function banksDoc(v: unknown, path: string): RecastBankDoc[] {
  const o = object(v, path);
  return Object.entries(o).map(([name, b]) => {
    if (!BANK_NAME.test(name)) throw new Violation(keyPath(path, name), 'a bank name must match ^[A-Za-z0-9._-]+$');
    return bankEntry(name, b, keyPath(path, name));
  });
}

// --- section 2.4: recast.source ---------------------------------------------------------------

const baseName: Check<string> = (v, path) => {
  const s = string(v, path);
  // eslint-disable-next-line no-control-regex -- a NUL cannot be in a file name
  if (s === '' || s === '.' || s === '..' || /[/\\\u0000]/.test(s))
    throw new Violation(path, `expected a base name (no folder), got ${describe(s)}`);
  return s;
};
const sha256: Check<string> = (v, path) =>
  typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? v : expected('a SHA-256 of 64 lowercase hex digits', v, path);

function digest(v: unknown, path: string): SourceDigestDoc {
  const o = object(v, path);
  return { file: field(o, path, 'file', baseName), bytes: field(o, path, 'bytes', int(0)), sha256: field(o, path, 'sha256', sha256) };
}

function sourceDoc(v: unknown, path: string): RecastSourceDoc {
  const o = object(v, path);
  const shards = optional(o, path, 'shards', arrayOf(digest, 1));
  return { ...digest(o, path), ...(shards ? { shards } : {}) };
}

// --- section 2.5: recast.method ---------------------------------------------------------------

/** recast.method.phases: seconds per known phase; phases this reader does not know are dropped. */
function phasesDoc(v: unknown, path: string): PhaseTimes {
  const o = object(v, path);
  const out: PhaseTimes = {};
  for (const phase of RUN_PHASES) {
    const seconds = optional(o, path, phase, finite(0));
    if (seconds !== undefined) out[phase] = seconds;
  }
  return out;
}

/** recast.method.device: the GPU adapter that ran the fits. */
function deviceDoc(v: unknown, path: string): GpuDevice {
  const o = object(v, path);
  return {
    vendor: field(o, path, 'vendor', string),
    architecture: field(o, path, 'architecture', string),
    description: field(o, path, 'description', string),
  };
}

function methodDoc(v: unknown, path: string): MethodRecord {
  const o = object(v, path);
  const device = optional(o, path, 'device', deviceDoc);
  const phases = optional(o, path, 'phases', phasesDoc);
  const templateDtype = optional(o, path, 'templateDtype', oneOf(TEMPLATE_DTYPES));
  const g = field(o, path, 'grouping', (x, p) => object(x, p));
  const gp = `${path}.grouping`;
  const blockIndex = optional(g, gp, 'blockIndex', oneOf(BLOCK_INDEXES));
  return {
    method: field(o, path, 'method', oneOf(METHODS)),
    objective: field(o, path, 'objective', nullable(oneOf(OBJECTIVES))),
    grouping: {
      preset: field(g, gp, 'preset', string),
      modules: field(g, gp, 'modules', arrayOf(string)),
      blocksPerGroup: field(g, gp, 'blocksPerGroup', nullable(int(1))),
      groups: field(g, gp, 'groups', nullable(int(1))),
      shareRoles: field(g, gp, 'shareRoles', boolean),
      ratio: field(g, gp, 'ratio', nullable(finite(0))),
      ...(blockIndex === undefined ? {} : { blockIndex }),
    },
    n: field(o, path, 'n', nullable(either(int(1), oneOf(['exact' as const]), 'an integer >= 1, "exact" or null'))),
    K: field(o, path, 'K', int(1)),
    loss: field(o, path, 'loss', oneOf(LOSSES)),
    beta: field(o, path, 'beta', nullable(finite(0))),
    steps: field(o, path, 'steps', int(0)),
    lr: field(o, path, 'lr', nullable(finite(0))),
    lrStep: field(o, path, 'lrStep', nullable(finite(0))),
    lrGamma: field(o, path, 'lrGamma', nullable(finite(0))),
    clip: field(o, path, 'clip', nullable(finite(0))),
    noise: field(o, path, 'noise', finite(0)),
    seed: field(o, path, 'seed', anyInt),
    backend: field(o, path, 'backend', string),
    ...(device === undefined ? {} : { device }),
    moduleWeights: { ...field(o, path, 'moduleWeights', recordOf(finite())) },
    probes: field(o, path, 'probes', int(0)),
    ...(templateDtype === undefined ? {} : { templateDtype }),
    elapsed: field(o, path, 'elapsed', finite(0)),
    ...(phases === undefined ? {} : { phases }),
  };
}

// --- section 2.6: recast.metrics --------------------------------------------------------------

function layerDoc(v: unknown, path: string): LayerMetrics {
  const o = object(v, path);
  const probeCosine = optional(o, path, 'probeCosine', metric);
  // The float32 templates' fidelity of a 16-bit bank: both fields or neither.
  const f32Cosine = optional(o, path, 'f32Cosine', metric);
  const f32RelError = optional(o, path, 'f32RelError', metric);
  if ((f32Cosine === undefined) !== (f32RelError === undefined))
    throw new Violation(`${path}.${f32Cosine === undefined ? 'f32Cosine' : 'f32RelError'}`, 'f32Cosine and f32RelError come together');
  return {
    name: field(o, path, 'name', string),
    bank: field(o, path, 'bank', string),
    cosine: field(o, path, 'cosine', metric),
    relError: field(o, path, 'relError', metric),
    ...(probeCosine === undefined ? {} : { probeCosine }),
    ...(f32Cosine === undefined || f32RelError === undefined ? {} : { f32Cosine, f32RelError }),
  };
}

function bankMetricsDoc(v: unknown, path: string): BankMetrics {
  const o = object(v, path);
  const blocks = field(o, path, 'coefficientSimilarityBlocks', arrayOf(int(0)));
  const matrix = field(o, path, 'coefficientSimilarity', arrayOf(arrayOf(metric)));
  if (matrix.length !== blocks.length || matrix.some((row) => row.length !== blocks.length))
    throw new Violation(`${path}.coefficientSimilarity`, `expected a ${blocks.length} x ${blocks.length} matrix (one row per block)`);
  const p = field(o, path, 'parameters', (x, q) => object(x, q));
  const entropySkipped = optional(o, path, 'entropySkipped', string);
  const entropyEstimated = optional(o, path, 'entropyEstimated', (x, q) => {
    const e = object(x, q);
    return { probes: field(e, q, 'probes', int(2)), steps: field(e, q, 'steps', int(1)), error: field(e, q, 'error', metric) };
  });
  const energy = optional(o, path, 'energy', arrayOf(finite(0)));
  return {
    name: field(o, path, 'name', string),
    members: field(o, path, 'members', arrayOf(string)),
    templates: field(o, path, 'templates', int(1)),
    diversity: field(o, path, 'diversity', metric),
    diversityRelative: field(o, path, 'diversityRelative', metric),
    entropy: field(o, path, 'entropy', nullable(finite())),
    entropyNormalized: field(o, path, 'entropyNormalized', nullable(finite())),
    ...(entropySkipped === undefined ? {} : { entropySkipped }),
    ...(entropyEstimated === undefined ? {} : { entropyEstimated }),
    ...(energy === undefined ? {} : { energy }),
    coefficientSimilarity: matrix,
    coefficientSimilarityBlocks: blocks,
    parameters: { before: field(p, `${path}.parameters`, 'before', int(0)), after: field(p, `${path}.parameters`, 'after', int(0)) },
    rank: field(o, path, 'rank', nullable(int(0))),
    loss: field(o, path, 'loss', metric),
  };
}

function summaryDoc(v: unknown, path: string): RecastMetricsDoc['summary'] {
  const o = object(v, path);
  const p = field(o, path, 'parameters', (x, q) => object(x, q));
  const pp = `${path}.parameters`;
  const meanProbeCosine = optional(o, path, 'meanProbeCosine', metric);
  const probeKind = optional(o, path, 'probeKind', string);
  const f32Templates = optional(o, path, 'f32Templates', (x, q) => {
    const f = object(x, q);
    return {
      meanCosine: field(f, q, 'meanCosine', metric),
      minCosine: field(f, q, 'minCosine', metric),
      meanRelError: field(f, q, 'meanRelError', metric),
    };
  });
  return {
    layers: field(o, path, 'layers', int(0)),
    banks: field(o, path, 'banks', int(0)),
    meanCosine: field(o, path, 'meanCosine', metric),
    minCosine: field(o, path, 'minCosine', metric),
    meanRelError: field(o, path, 'meanRelError', metric),
    parameters: { before: field(p, pp, 'before', int(0)), after: field(p, pp, 'after', int(0)), ratio: field(p, pp, 'ratio', metric) },
    coefficientsPerTask: field(o, path, 'coefficientsPerTask', int(0)),
    ...(meanProbeCosine === undefined ? {} : { meanProbeCosine }),
    ...(probeKind === undefined ? {} : { probeKind }),
    ...(f32Templates === undefined ? {} : { f32Templates }),
  };
}

function metricsDoc(v: unknown, path: string): RecastMetricsDoc {
  const o = object(v, path);
  return {
    layers: field(o, path, 'layers', arrayOf(layerDoc)),
    banks: field(o, path, 'banks', arrayOf(bankMetricsDoc)),
    summary: field(o, path, 'summary', summaryDoc),
  };
}

// --- section 2.8: recast.spectra (optional) --------------------------------------------------

const singularValue: Check<number> = (v, path) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : expected('a finite number >= 0', v, path);

function spectraLine(v: unknown, path: string): RecastSpectraDoc['lines'][number] {
  const o = object(v, path);
  const values = field(o, path, 'values', arrayOf(singularValue));
  for (let i = 1; i < values.length; i++)
    if (values[i] > values[i - 1]) throw new Violation(`${path}.values[${i}]`, 'singular values must be in descending order');
  return {
    label: field(o, path, 'label', string),
    kind: field(o, path, 'kind', oneOf<SpectrumKind>(['original', 'template', 'rebuilt'])),
    values,
  };
}

function spectraDoc(v: unknown, path: string): RecastSpectraDoc[] {
  const o = object(v, path);
  return Object.entries(o).map(([bank, x]) => {
    const p = keyPath(path, bank);
    const e = object(x, p);
    const skipped = optional(e, p, 'skipped', string);
    return { bank, lines: field(e, p, 'lines', arrayOf(spectraLine)), ...(skipped === undefined ? {} : { skipped }) };
  });
}

/** Stored spectra must be of banks the file has, each line at most min(rows, cols) values long. */
function spectraInconsistency(spectra: readonly RecastSpectraDoc[], banks: readonly RecastBankDoc[]): string | undefined {
  const byName = new Map(banks.map((b) => [b.name, b]));
  for (const s of spectra) {
    const b = byName.get(s.bank);
    if (!b) return `recast.spectra names bank ${JSON.stringify(s.bank)}, which recast.banks does not have`;
    const side = Math.min(
      b.shape[0],
      b.shape.slice(1).reduce((x, y) => x * y, 1),
    );
    const long = s.lines.findIndex((l) => l.values.length > side);
    if (long >= 0)
      return `recast.spectra[${JSON.stringify(s.bank)}].lines[${long}] has ${s.lines[long].values.length} values, the bank's matrices have ${side}`;
  }
  return undefined;
}

// --- the metadata as a whole ------------------------------------------------------------------

/** A JSON-valued key: missing, not JSON, duplicate keys or too deep are refusals. */
function json(meta: Readonly<Record<string, string>>, key: string, file: string | undefined): unknown {
  const text = Object.hasOwn(meta, key) ? meta[key] : undefined;
  if (text === undefined) throw new RecastFormatError('metadata-missing', key, file);
  const parsed = parseJsonChecked(text);
  if (parsed.ok) return parsed.value;
  if (parsed.problem === 'not-json') throw new RecastFormatError('metadata-not-json', `${key}: ${parsed.detail}`, file);
  throw new RecastFormatError('metadata-invalid', `${key}: ${parsed.detail}`, file);
}

function same(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Where the documents contradict each other (each is valid on its own). */
function inconsistency(sets: number, banks: readonly RecastBankDoc[], method: MethodRecord, metrics: RecastMetricsDoc): string | undefined {
  if (method.K !== sets) return `recast.method.K is ${method.K}, recast.coefficient_sets is ${sets}`;
  if (metrics.banks.length !== banks.length)
    return `recast.metrics.banks has ${metrics.banks.length} entries, recast.banks has ${banks.length} banks`;
  for (const [i, m] of metrics.banks.entries()) {
    const b = banks[i];
    const at = `recast.metrics.banks[${i}]`;
    if (m.name !== b.name)
      return `${at}.name is ${JSON.stringify(m.name)}, the bank at that place in recast.banks is ${JSON.stringify(b.name)}`;
    if (!same(m.members, b.members)) return `${at}.members differ from recast.banks[${JSON.stringify(b.name)}].members`;
    if (m.templates !== b.templates) return `${at}.templates is ${m.templates}, recast.banks says ${b.templates}`;
  }
  const members = banks.flatMap((b) => b.members.map((name) => ({ name, bank: b.name })));
  if (metrics.layers.length !== members.length)
    return `recast.metrics.layers has ${metrics.layers.length} entries, recast.banks has ${members.length} members`;
  for (const [i, l] of metrics.layers.entries()) {
    if (l.name !== members[i].name || l.bank !== members[i].bank)
      return `recast.metrics.layers[${i}] is ${JSON.stringify(l.name)} of bank ${JSON.stringify(l.bank)}, recast.banks has ${JSON.stringify(members[i].name)} of bank ${JSON.stringify(members[i].bank)} there`;
  }
  if (metrics.summary.layers !== members.length) return `recast.metrics.summary.layers is ${metrics.summary.layers}, not ${members.length}`;
  if (metrics.summary.banks !== banks.length) return `recast.metrics.summary.banks is ${metrics.summary.banks}, not ${banks.length}`;
  return undefined;
}

/**
 * Reads and checks every key docs/FORMAT.md defines in a recast file's __metadata__. Throws a
 * RecastFormatError naming `file` and the rule: not-recast, unsupported-recast-version,
 * metadata-missing, metadata-not-json, metadata-invalid (with the key path) or metadata-inconsistent.
 */
export function readRecastMetadata(meta: Readonly<Record<string, string>>, file?: string): RecastMetadata {
  const format = Object.hasOwn(meta, 'format') ? meta.format : undefined;
  if (format !== RECAST_FORMAT) throw new RecastFormatError('not-recast', `format is ${JSON.stringify(format ?? null)}`, file);
  const version = Object.hasOwn(meta, 'recast.version') ? meta['recast.version'] : undefined;
  if (version !== RECAST_VERSION) throw new RecastFormatError('unsupported-recast-version', JSON.stringify(version ?? null), file);
  const setsText = Object.hasOwn(meta, 'recast.coefficient_sets') ? meta['recast.coefficient_sets'] : undefined;
  if (setsText === undefined) throw new RecastFormatError('metadata-missing', 'recast.coefficient_sets', file);
  const sets = /^[1-9][0-9]*$/.test(setsText) ? Number(setsText) : Number.NaN;
  if (!Number.isSafeInteger(sets))
    throw new RecastFormatError(
      'metadata-invalid',
      `recast.coefficient_sets: expected a positive decimal integer, got ${describe(setsText)}`,
      file,
    );
  const check = <T>(key: string, fn: Check<T>): T => {
    const value = json(meta, key, file);
    try {
      return fn(value, key);
    } catch (e) {
      if (e instanceof Violation) throw new RecastFormatError('metadata-invalid', e.message, file);
      throw e;
    }
  };
  const banks = check('recast.banks', banksDoc);
  const source = check('recast.source', sourceDoc);
  const method = check('recast.method', methodDoc);
  const metrics = check('recast.metrics', metricsDoc);
  const sourceMetadata = Object.hasOwn(meta, SOURCE_METADATA_KEY) ? check(SOURCE_METADATA_KEY, recordOf(string, true)) : undefined;
  const spectra = Object.hasOwn(meta, 'recast.spectra') ? check('recast.spectra', spectraDoc) : undefined;
  const clash = inconsistency(sets, banks, method, metrics) ?? (spectra && spectraInconsistency(spectra, banks));
  if (clash !== undefined) throw new RecastFormatError('metadata-inconsistent', clash, file);
  const banksJson: BanksJson = {};
  for (const b of banks)
    banksJson[b.name] = { members: [...b.members], shape: [...b.shape], templates: b.templates, source_dtype: b.dtype };
  return { sets, banks, banksJson, source, method, metrics, sourceMetadata, spectra };
}
