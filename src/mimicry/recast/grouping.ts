// Finds the template banks of a checkpoint from tensor names and shapes alone (docs/RECAST.md section 1):
// the same module role in consecutive numbered blocks, same shape and dtype, split into groups.
import type { DType, TensorInfo } from '../safetensors/types';
import { ReconstructError } from './errors';
import { isPositiveInt } from '../positiveInt';

/** Source dtypes a bank can hold: the reconstruction is cast back to these (docs/FORMAT.md). */
export type BankDType = 'F32' | 'F16' | 'BF16';
const BANK_DTYPES: ReadonlySet<DType> = new Set<DType>(['F32', 'F16', 'BF16']);

/** What grouping needs of a tensor (a TensorInfo satisfies it). */
export type TensorLike = Pick<TensorInfo, 'name' | 'dtype' | 'shape'>;

export type Preset = 'paper' | 'exact' | '2x' | '4x' | '10x';

/**
 * Which numbered part of a name is the block when more than one repeats (docs/RECAST.md 1.2):
 * `inner` (the default) takes the innermost, so the experts of one MoE layer are a family;
 * `outer` the outermost, so one expert slot across the layers is.
 */
export type BlockIndex = 'inner' | 'outer';
export const BLOCK_INDEXES: readonly BlockIndex[] = ['inner', 'outer'];
export const PRESETS: readonly Preset[] = ['paper', 'exact', '2x', '4x', '10x'];

export interface GroupingOptions {
  /** Roles to reparameterize (e.g. `mlp.fc1`, `attn.c_attn`); all roles when absent or empty. */
  readonly modules?: readonly string[];
  /** Consecutive blocks per group (authors' ViT-S: 2). Ignored when `groups` is set. */
  readonly blocksPerGroup?: number;
  /** Alternatively: number of groups per role (the authors' FACTORS). */
  readonly groups?: number;
  /** Templates per bank n, or 'exact' (n = members of the bank). */
  readonly templates?: number | 'exact';
  /** Target compression ratio per bank; picks n per bank (overrides `templates`). */
  readonly ratio?: number;
  /** Coefficient sets per layer, K. */
  readonly sets?: number;
  /** One bank for all roles of equal shape within a group of blocks. */
  readonly shareRoles?: boolean;
  /** Starting point whose values explicit options override; default 'paper'. */
  readonly preset?: Preset;
  /** Which numbered part is the block when several repeat; default 'inner'. */
  readonly blockIndex?: BlockIndex;
}

/** Options after presets and defaults are applied. */
export interface ResolvedGrouping {
  readonly modules: readonly string[];
  readonly blocksPerGroup: number | null;
  readonly groups: number | null;
  readonly templates: number | 'exact';
  readonly ratio: number | null;
  readonly sets: number;
  readonly shareRoles: boolean;
  readonly preset: Preset;
  readonly blockIndex: BlockIndex;
}

/** One template bank: a group of member tensors that share n templates. */
export interface BankPlan {
  /** docs/FORMAT.md bank name: letters, digits, `.`, `_`, `-`. */
  readonly name: string;
  readonly roles: readonly string[];
  /** Name part before the block index (e.g. `transformer.h`). */
  readonly prefix: string;
  readonly shape: readonly number[];
  readonly dtype: BankDType;
  /** Original tensor names in block order (role order within a block). */
  readonly members: readonly string[];
  /** Block index of each member. */
  readonly blocks: readonly number[];
  /** Role of each member (one of `roles`), in member order. */
  readonly memberRoles: readonly string[];
  /** Templates requested for this bank, at most the number of members. */
  readonly templates: number;
  readonly sets: number;
  /** Elements of one member. */
  readonly size: number;
}

/** A role found in the checkpoint, for pickers and `--modules`. */
export interface RoleInfo {
  readonly role: string;
  readonly prefix: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly blocks: readonly number[];
  readonly tensors: readonly string[];
}

export interface GroupingPlan {
  readonly options: ResolvedGrouping;
  readonly banks: readonly BankPlan[];
  /** Every role that could be grouped (at least 2 blocks), selected or not. */
  readonly roles: readonly RoleInfo[];
  /** Tensors copied unchanged, in checkpoint order. */
  readonly passthrough: readonly string[];
}

const PRESET_VALUES: Readonly<Record<Preset, Omit<ResolvedGrouping, 'modules' | 'shareRoles' | 'preset' | 'blockIndex'>>> = {
  paper: { blocksPerGroup: 2, groups: null, templates: 2, ratio: null, sets: 2 },
  exact: { blocksPerGroup: 2, groups: null, templates: 'exact', ratio: null, sets: 2 },
  // A ratio above the group size is unreachable with 2 blocks per group, so ratios use whole roles.
  '2x': { blocksPerGroup: null, groups: 1, templates: 2, ratio: 2, sets: 2 },
  '4x': { blocksPerGroup: null, groups: 1, templates: 2, ratio: 4, sets: 2 },
  '10x': { blocksPerGroup: null, groups: 1, templates: 2, ratio: 10, sets: 2 },
};

/** An optional count option: undefined when not given, refused when not a positive integer. */
function positiveIntOption(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!isPositiveInt(value)) throw new ReconstructError('invalid-option', `${what} must be a positive integer, got ${value}`);
  return value;
}

export function resolveGrouping(options: GroupingOptions = {}): ResolvedGrouping {
  const preset = options.preset ?? 'paper';
  const base = PRESET_VALUES[preset];
  if (!base) throw new ReconstructError('unknown-preset', `"${String(preset)}"; one of ${PRESETS.join(', ')}`);
  const blocksPerGroup = positiveIntOption(options.blocksPerGroup, 'blocks per group');
  const groups = positiveIntOption(options.groups, 'number of groups');
  const sets = positiveIntOption(options.sets, 'coefficient sets K') ?? base.sets;
  let templates: number | 'exact' = base.templates;
  if (options.templates !== undefined) {
    templates = options.templates === 'exact' ? 'exact' : (positiveIntOption(options.templates, 'templates n') as number);
  }
  let ratio = base.ratio;
  if (options.ratio !== undefined) {
    if (!(options.ratio >= 1) || !Number.isFinite(options.ratio))
      throw new ReconstructError('invalid-option', `ratio must be a number >= 1, got ${options.ratio}`);
    ratio = options.ratio;
  } else if (options.templates !== undefined) {
    ratio = null; // an explicit n wins over a preset's ratio
  }
  const blockIndex = options.blockIndex ?? 'inner';
  if (!BLOCK_INDEXES.includes(blockIndex)) {
    throw new ReconstructError('invalid-option', `block index must be one of ${BLOCK_INDEXES.join(', ')}, got "${String(blockIndex)}"`);
  }
  let bpg = base.blocksPerGroup;
  let g = base.groups;
  if (groups !== undefined) {
    g = groups;
    bpg = null;
  } else if (blocksPerGroup !== undefined) {
    bpg = blocksPerGroup;
    g = null;
  }
  return {
    modules: (options.modules ?? []).map((m) => m.trim()).filter((m) => m.length > 0),
    blocksPerGroup: bpg,
    groups: g,
    templates,
    ratio,
    sets,
    shareRoles: options.shareRoles ?? false,
    preset,
    blockIndex,
  };
}

/** Where a name's block index sits: `<prefix>.<index>.<role>[.weight]`. */
export interface ParsedName {
  readonly prefix: string;
  readonly block: number;
  readonly role: string;
}

/** Numbered parts of one name tried as its block, at most (real names have one to three). */
const MAX_CANDIDATES = 8;

/**
 * Ways to read a weight name as `<prefix>.<index>.<role>`: one per purely numeric part with
 * something after it, innermost first (outermost first with `fromOuter`), at most MAX_CANDIDATES
 * of them. Only `.weight` and LoRA `lora_a`/`lora_b` tensors qualify (none otherwise).
 * `layers.{i}.weight` (a Sequential of convs): the module is the block itself, so the prefix is
 * the role.
 */
export function weightNameSplits(name: string, fromOuter = false): ParsedName[] {
  const parts = name.split('.');
  const last = parts[parts.length - 1];
  const isWeight = last === 'weight';
  if (!isWeight && !/^lora_[ab]$/i.test(last)) return [];
  const at: number[] = [];
  for (let k = 0; k < parts.length - 1; k++) if (/^\d+$/.test(parts[k])) at.push(k);
  const chosen = fromOuter ? at.slice(0, MAX_CANDIDATES) : at.slice(-MAX_CANDIDATES).reverse();
  const out: ParsedName[] = [];
  for (const i of chosen) {
    const prefix = parts.slice(0, i).join('.');
    const tail = parts.slice(i + 1, isWeight ? -1 : undefined);
    const role = tail.length > 0 ? tail.join('.') : prefix;
    if (role.length > 0) out.push({ prefix, block: Number(parts[i]), role });
  }
  return out;
}

/**
 * A name on its own, split at its innermost numbered part (see weightNameSplits). Which part is
 * the block of a checkpoint's tensor depends on the other names: see assignBlocks.
 */
export function parseWeightName(name: string): ParsedName | null {
  return weightNameSplits(name)[0] ?? null;
}

/** What telling blocks apart needs of a tensor: its name, and shape and dtype where known. */
export type NamedLike = Pick<TensorLike, 'name'> & Partial<Pick<TensorLike, 'shape' | 'dtype'>>;

/**
 * Each name's block, prefix and role, read against all the others (docs/RECAST.md 1.2). A name
 * may hold several numbered parts (`encoder.block.{i}.layer.{j}.SelfAttention.q.weight`,
 * `model.layers.{l}.block_sparse_moe.experts.{e}.w1.weight`); each is a candidate block index. In
 * rounds, innermost candidates first (outermost first with `outer`), the tensors still unplaced
 * are split at their next candidate, and a (prefix, role, shape, dtype) found in two or more
 * blocks places its tensors there. So an inner index that repeats a role keeps it (the experts of
 * one layer), and one that does not gives way to the next (T5's sub-layers `layer.{j}` hold
 * different roles, so `block.{i}` is the block and `layer.0.SelfAttention.q` the role). Names
 * whose candidates never repeat are split at their first candidate; names without one are left out.
 */
export function assignBlocks(tensors: readonly NamedLike[], blockIndex: BlockIndex = 'inner'): Map<string, ParsedName> {
  const splits = tensors.map((t) => weightNameSplits(t.name, blockIndex === 'outer'));
  const placed = new Map<string, ParsedName>();
  const rounds = splits.reduce((m, s) => Math.max(m, s.length), 0);
  for (let round = 0; round < rounds; round++) {
    const families = new Map<string, number[]>();
    tensors.forEach((t, k) => {
      const p = splits[k][round];
      if (p === undefined || placed.has(t.name)) return;
      const key = `${p.prefix}\u0000${p.role}\u0000${t.shape ? shapeKey(t.shape) : ''}\u0000${t.dtype ?? ''}`;
      const list = families.get(key);
      if (list) list.push(k);
      else families.set(key, [k]);
    });
    for (const list of families.values()) {
      if (list.length < 2) continue;
      for (const k of list) placed.set(tensors[k].name, splits[k][round]);
    }
  }
  tensors.forEach((t, k) => {
    if (!placed.has(t.name) && splits[k].length > 0) placed.set(t.name, splits[k][0]);
  });
  return placed;
}

function shapeKey(shape: readonly number[]): string {
  return shape.join('x');
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Every role with the same prefix, shape and dtype in at least two blocks. */
export function findRoles(tensors: readonly TensorLike[], blockIndex: BlockIndex = 'inner'): RoleInfo[] {
  const families = new Map<
    string,
    { role: string; prefix: string; shape: readonly number[]; dtype: DType; items: { block: number; name: string }[] }
  >();
  const candidates = tensors.filter((t) => t.shape.length >= 2 && BANK_DTYPES.has(t.dtype) && product(t.shape) > 0);
  const placed = assignBlocks(candidates, blockIndex);
  for (const t of candidates) {
    const p = placed.get(t.name);
    if (!p) continue;
    const key = `${p.prefix}\u0000${p.role}\u0000${shapeKey(t.shape)}\u0000${t.dtype}`;
    let f = families.get(key);
    if (!f) families.set(key, (f = { role: p.role, prefix: p.prefix, shape: t.shape, dtype: t.dtype, items: [] }));
    f.items.push({ block: p.block, name: t.name });
  }
  const roles: RoleInfo[] = [];
  for (const f of families.values()) {
    if (f.items.length < 2) continue; // nothing to share
    f.items.sort((a, b) => a.block - b.block);
    roles.push({
      role: f.role,
      prefix: f.prefix,
      shape: [...f.shape],
      dtype: f.dtype,
      blocks: f.items.map((i) => i.block),
      tensors: f.items.map((i) => i.name),
    });
  }
  return roles;
}

/** Consecutive chunks of `blocks` (already sorted). */
function chunkBlocks(blocks: readonly number[], opts: ResolvedGrouping): number[][] {
  const out: number[][] = [];
  if (opts.groups !== null) {
    const g = Math.min(opts.groups, blocks.length);
    const base = Math.floor(blocks.length / g);
    const extra = blocks.length % g;
    let at = 0;
    for (let i = 0; i < g; i++) {
      const size = base + (i < extra ? 1 : 0);
      out.push(blocks.slice(at, at + size));
      at += size;
    }
    return out;
  }
  const size = opts.blocksPerGroup ?? blocks.length;
  for (let at = 0; at < blocks.length; at += size) out.push(blocks.slice(at, at + size));
  return out;
}

/** n for a target ratio: n*d + M*K*n ≈ M*d / ratio, clamped to [1, M]. */
export function templatesForRatio(members: number, size: number, sets: number, ratio: number): number {
  const n = Math.round((members * size) / (ratio * (size + members * sets)));
  return Math.max(1, Math.min(members, n));
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

interface Family {
  readonly roles: readonly RoleInfo[];
  readonly prefix: string;
  readonly shape: readonly number[];
  readonly dtype: BankDType;
}

/** Bank base names: the role(s), made unique with the prefix, then shape and dtype, when needed. */
function familyNames(families: readonly Family[]): string[] {
  const candidates = families.map((f) => {
    const role = f.roles.map((r) => r.role).join('-');
    return [role, `${f.prefix}.${role}`, `${f.prefix}.${role}.${shapeKey(f.shape)}.${f.dtype}`].map(sanitize);
  });
  const names: string[] = [];
  for (let i = 0; i < families.length; i++) {
    let chosen = candidates[i][2];
    for (let level = 0; level < 3; level++) {
      const mine = candidates[i][level];
      if (candidates.every((c, j) => j === i || c[level] !== mine)) {
        chosen = mine;
        break;
      }
    }
    names.push(chosen);
  }
  return names;
}

function roleMatches(role: RoleInfo, wanted: readonly string[]): boolean {
  if (wanted.length === 0) return true;
  return wanted.some((w) => w === role.role || `${role.prefix}.${role.role}` === w);
}

/** Roles listed in a refusal at most; the rest are counted. */
const LISTED_ROLES = 40;

/**
 * The roles found, for a message: each role once, in checkpoint order, with where it is when that
 * is more than one prefix (`w1 (32 prefixes: model.layers.0.block_sparse_moe.experts, ...)`).
 */
export function describeRoles(roles: readonly RoleInfo[]): string {
  if (roles.length === 0) return '(none: no weight has the same shape in two or more numbered blocks)';
  const prefixes = new Map<string, string[]>();
  for (const r of roles) {
    const list = prefixes.get(r.role);
    if (!list) prefixes.set(r.role, [r.prefix]);
    else if (!list.includes(r.prefix)) list.push(r.prefix);
  }
  const items = [...prefixes].map(([role, where]) => (where.length > 1 ? `${role} (${where.length} prefixes: ${where[0]}, ...)` : role));
  const more = items.length - LISTED_ROLES;
  return more > 0 ? `${items.slice(0, LISTED_ROLES).join(', ')} and ${more} more` : items.join(', ');
}

/** Plans every bank of a checkpoint. Throws a ReconstructError when `modules` names a role that is not there. */
export function planGroups(tensors: readonly TensorLike[], options: GroupingOptions = {}): GroupingPlan {
  const opts = resolveGrouping(options);
  const roles = findRoles(tensors, opts.blockIndex);
  const unknown = opts.modules.filter((m) => !roles.some((r) => roleMatches(r, [m])));
  if (unknown.length > 0) {
    throw new ReconstructError(
      'unknown-module',
      `${unknown.map((u) => `"${u}"`).join(', ')} ${unknown.length === 1 ? 'matches' : 'match'} nothing (a module is a role, ` +
        `or prefix.role); roles in this checkpoint: ${describeRoles(roles)}`,
    );
  }
  const selected = roles.filter((r) => roleMatches(r, opts.modules));

  const families: Family[] = [];
  if (opts.shareRoles) {
    const byShape = new Map<string, RoleInfo[]>();
    for (const r of selected) {
      const key = `${r.prefix}\u0000${shapeKey(r.shape)}\u0000${r.dtype}`;
      const list = byShape.get(key) ?? [];
      list.push(r);
      byShape.set(key, list);
    }
    for (const list of byShape.values()) {
      list.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
      families.push({ roles: list, prefix: list[0].prefix, shape: list[0].shape, dtype: list[0].dtype as BankDType });
    }
  } else {
    for (const r of selected) families.push({ roles: [r], prefix: r.prefix, shape: r.shape, dtype: r.dtype as BankDType });
  }

  const names = familyNames(families);
  const banks: BankPlan[] = [];
  families.forEach((f, fi) => {
    const allBlocks = [...new Set(f.roles.flatMap((r) => r.blocks))].sort((a, b) => a - b);
    const size = product(f.shape);
    chunkBlocks(allBlocks, opts).forEach((chunk, gi) => {
      const members: string[] = [];
      const blocks: number[] = [];
      const memberRoles: string[] = [];
      for (const b of chunk) {
        for (const r of f.roles) {
          const at = r.blocks.indexOf(b);
          if (at >= 0) {
            members.push(r.tensors[at]);
            blocks.push(b);
            memberRoles.push(r.role);
          }
        }
      }
      const m = members.length;
      const n =
        opts.ratio !== null
          ? templatesForRatio(m, size, opts.sets, opts.ratio)
          : opts.templates === 'exact'
            ? m
            : Math.min(opts.templates, m);
      banks.push({
        name: `${names[fi]}.g${gi}`,
        roles: f.roles.map((r) => r.role),
        prefix: f.prefix,
        shape: [...f.shape],
        dtype: f.dtype,
        members,
        blocks,
        memberRoles,
        templates: n,
        sets: opts.sets,
        size,
      });
    });
  });

  const grouped = new Set(banks.flatMap((b) => b.members));
  const passthrough = tensors.filter((t) => !grouped.has(t.name)).map((t) => t.name);
  return { options: opts, banks, roles, passthrough };
}

/** Parameter counts of a bank before and after reparameterization. */
export function bankParameters(bank: Pick<BankPlan, 'members' | 'size' | 'sets'>, templates: number): { before: number; after: number } {
  return { before: bank.members.length * bank.size, after: templates * bank.size + bank.members.length * bank.sets * templates };
}
