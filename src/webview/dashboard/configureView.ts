// The configuration form: the groups found (a checkbox per module role, each bank's members,
// shape and parameters), every engine setting, presets, and the live parameter budget that the
// engine computes for the current settings (the webview sends the options, the worker plans).
import type { CheckpointBrief, CurveOutcome, CurveProgress, CurveView, PlanOutcome, PlanView, ReconstructOptions } from '../protocol';
import type { DashboardTheme } from '../shared/theme';
import { ChartHost, type ExportChart } from './chartHost';
import { curveOption } from './chartOptions';
import { formatCount, formatInteger, formatNumber, formatShape } from '../shared/format';
import { h, replace } from '../shared/dom';
import { button, checkbox, field, select, selected, textfield, type CheckElement, type ValueElement } from './controls';
import { DEFINITIONS } from '../../mimicry/dashboard/definitions';
import { parsePositiveInt } from '../../mimicry/positiveInt';
import { withoutBanks } from '../../mimicry/dashboard/budgetSelection';

const PRESETS: readonly (readonly [string, string])[] = [
  ['paper', "Authors' setting (2 blocks/group, n = 2, K = 2): exact, no compression"],
  ['exact', 'Exact (n = members)'],
  ['2x', '2× compression'],
  ['4x', '4× compression'],
  ['10x', '10× compression'],
];
const METHODS: readonly (readonly [string, string])[] = [
  ['spectral', 'spectral (closed form, seconds)'],
  ['paper', "paper (the authors' optimizer loop)"],
  ['spectral+refine', 'spectral + refine (closed form, then optimizer)'],
];
const TEMPLATE_DTYPES: readonly (readonly [string, string])[] = [
  ['source', 'the source’s (BF16/F16 for a 16-bit checkpoint)'],
  ['F32', 'F32 (exact)'],
];
const BACKENDS: readonly (readonly [string, string])[] = [
  ['auto', 'auto (fastest that loads)'],
  ['wasm', 'wasm'],
  ['cpu', 'cpu (plain JS)'],
  ['tfjs-node', 'tfjs-node'],
  ['tfjs-node-gpu', 'tfjs-node-gpu (CUDA)'],
];

/** What a preset does, under its picker: the authors' setting is exact, so it compresses nothing. */
function presetHelp(preset: string): string {
  const tail = ' Fields you fill in override it.';
  switch (preset) {
    case 'paper':
      return (
        'Exact: no compression; the authors’ setting for fine-tuning coefficients (n = 2 templates for the 2 members of each group).' + tail
      );
    case 'exact':
      return 'Exact: no compression (n = members of each bank).' + tail;
    default:
      return `One bank per role, n chosen for about ${preset} fewer parameters; the curve shows what it costs in fidelity.` + tail;
  }
}

type NumberKey = 'blocksPerGroup' | 'sets' | 'steps' | 'lr' | 'beta' | 'noise' | 'seed' | 'probes' | 'entropyMaxSide';

interface NumberField {
  readonly key: NumberKey;
  readonly label: string;
  readonly help: string;
  readonly integer: boolean;
  /** Only used by the optimizer methods. */
  readonly optimizer: boolean;
}

const NUMBER_FIELDS: readonly NumberField[] = [
  {
    key: 'blocksPerGroup',
    label: 'Blocks per group',
    help: 'Consecutive blocks that share one bank (empty: the preset’s).',
    integer: true,
    optimizer: false,
  },
  {
    key: 'sets',
    label: 'Coefficient sets K',
    help: 'Coefficient sets per layer; they average, so K changes training noise, not what fits.',
    integer: true,
    optimizer: false,
  },
  { key: 'steps', label: 'Steps', help: 'Full-batch optimizer steps (authors: 1000).', integer: true, optimizer: true },
  { key: 'lr', label: 'Learning rate', help: 'RMSprop learning rate (authors: 0.1; refine: 1e-4).', integer: false, optimizer: true },
  {
    key: 'beta',
    label: 'SmoothL1 beta',
    help: 'Where SmoothL1 turns from squared to absolute error (authors: 1).',
    integer: false,
    optimizer: true,
  },
  {
    key: 'noise',
    label: 'Coefficient noise σ',
    help: 'Gaussian noise added to coefficients while training (authors: 1e-4).',
    integer: false,
    optimizer: true,
  },
  { key: 'seed', label: 'Seed', help: 'Random seed of the initialisation, noise and probes.', integer: true, optimizer: false },
  {
    key: 'probes',
    label: 'Random probes per layer',
    help: 'Feature fidelity with N(0, I) probes (not data); 0 skips it.',
    integer: true,
    optimizer: false,
  },
  {
    key: 'entropyMaxSide',
    label: 'Entropy max side',
    help: 'Largest min(rows, cols) of a template whose entropy is measured exactly (its cost grows with the cube); default 1024.',
    integer: true,
    optimizer: false,
  },
];

export interface ConfigureHandlers {
  plan(options: ReconstructOptions): void;
  run(options: ReconstructOptions): void;
  changed(options: ReconstructOptions): void;
}

export class ConfigureView {
  readonly element: HTMLElement;
  private readonly preset: ValueElement;
  private readonly method: ValueElement;
  private readonly objective: ValueElement;
  private readonly loss: ValueElement;
  private readonly backend: ValueElement;
  private readonly templateDtype: ValueElement;
  private readonly templates: ValueElement;
  private readonly shareRoles: CheckElement;
  private readonly numbers = new Map<NumberKey, { el: ValueElement; message: HTMLElement; spec: NumberField }>();
  private readonly messages = new Map<string, HTMLElement>();
  private readonly rolesBox = h('div', { class: 'roles', 'data-testid': 'role-list' });
  private readonly budgetBox = h('div', { class: 'cards', 'data-testid': 'budget' });
  private readonly banksBox = h('div', { class: 'banks', 'data-testid': 'bank-list' });
  private readonly errorBox = h('div', { class: 'form-error', role: 'alert', 'data-testid': 'config-error' });
  private readonly runButton: HTMLElement & { disabled: boolean };
  /** Roles the user unchecked, as `prefix.role`. */
  private readonly excluded = new Set<string>();
  private plan: PlanView | undefined;
  private localError: string | undefined;
  /** The closed form's trade-off for the current grouping (the worker computes it after each plan). */
  private readonly curveChart: ChartHost;
  private readonly curveStatus = h('p', { class: 'muted', 'data-testid': 'curve-status', 'aria-live': 'polite' });
  private readonly curveTable = h('div', { 'data-testid': 'curve-table' });
  private curve: CurveView | undefined;

  constructor(
    brief: CheckpointBrief | undefined,
    initial: ReconstructOptions,
    private readonly handlers: ConfigureHandlers,
    private readonly theme: () => DashboardTheme,
    exportChart?: ExportChart,
  ) {
    this.curveChart = new ChartHost(
      'compression-curve',
      'curve-chart',
      `Compression vs fidelity per role. ${DEFINITIONS.curve}`,
      () => theme().background,
      exportChart,
      360,
    );
    this.curveChart.element.hidden = true;
    this.curveStatus.textContent = 'Computing the curve…';
    const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
    this.preset = select('preset', PRESETS, initial.preset ?? 'paper', 'preset-select');
    this.method = select('method', METHODS, initial.method ?? 'spectral', 'method-select');
    this.objective = select(
      'objective',
      [
        ['per-layer', 'per-layer (maximise each layer’s cosine)'],
        ['total', 'total squared error'],
      ],
      initial.objective ?? 'per-layer',
      'objective-select',
    );
    this.loss = select(
      'loss',
      [
        ['smoothl1', 'SmoothL1'],
        ['mse', 'mean squared error'],
      ],
      initial.loss ?? 'smoothl1',
      'loss-select',
    );
    this.backend = select('backend', BACKENDS, initial.backend ?? 'auto', 'backend-select');
    this.templateDtype = select('templateDtype', TEMPLATE_DTYPES, initial.templateDtype ?? 'source', 'template-dtype-select');
    this.templates = textfield('templates', str(initial.templates), 'preset', 'templates-input');
    this.shareRoles = checkbox('One bank for all roles of equal shape in a group', initial.shareRoles ?? false, 'share-roles');

    const general = h('div', { class: 'form-grid' });
    const add = (key: string, label: string, control: HTMLElement, help: string): void => {
      const f = field(label, control, help);
      this.messages.set(key, f.message);
      general.appendChild(f.row);
    };
    add('preset', 'Preset', this.preset, presetHelp(selected(this.preset)));
    this.messages.get('preset')?.setAttribute('data-testid', 'preset-note');
    add('method', 'Method', this.method, 'Closed form (docs/RECAST.md §3) or the authors’ optimizer loop (§2).');
    add('objective', 'Objective', this.objective, 'Closed form: per-layer cosine or total squared error.');
    add('templates', 'Templates n', this.templates, 'Templates per bank: a number, or “exact” (n = members); empty: the preset’s.');
    add(
      'templateDtype',
      'Template dtype',
      this.templateDtype,
      'Each bank’s own dtype (BF16/F16 source: about half the file; the metrics include the rounding) or exact F32. Coefficients stay F32.',
    );
    for (const spec of NUMBER_FIELDS) {
      const el = textfield(spec.key, str(initial[spec.key]), 'default', `${spec.key}-input`);
      const f = field(spec.label, el, spec.help);
      this.numbers.set(spec.key, { el, message: f.message, spec });
      general.appendChild(f.row);
    }
    add('loss', 'Loss', this.loss, 'Optimizer loss (the closed form minimises squared error).');
    add('backend', 'Backend', this.backend, 'Where the optimizer runs; the one used is shown with the results.');
    general.appendChild(h('div', { class: 'field' }, this.shareRoles));

    this.runButton = button('Reconstruct', 'run-button', () => {
      const o = this.options();
      if (o) handlers.run(o);
    });

    const title = brief ? `Reconstruct ${brief.fileName}` : 'Reconstruct';
    this.element = h(
      'section',
      { class: 'configure', 'data-testid': 'configure-view' },
      h('h2', {}, title),
      brief ? h('p', { class: 'muted' }, `${formatInteger(brief.tensorCount)} tensors · ${formatCount(brief.params)} parameters`) : null,
      // A LoRA adapter: what is fitted, its layer updates (by default) or its factors (mimicry.adapters.useFactors).
      brief?.note ? h('p', { 'data-testid': 'source-note' }, brief.note) : null,
      h(
        'div',
        { class: 'configure-columns' },
        h(
          'div',
          { class: 'configure-settings' },
          h('h3', {}, 'Settings'),
          general,
          this.errorBox,
          h('div', { class: 'actions' }, this.runButton),
        ),
        h(
          'div',
          { class: 'configure-plan' },
          h('h3', {}, 'Parameter budget'),
          h('p', { class: 'definition' }, DEFINITIONS.budget),
          this.budgetBox,
          h('h3', {}, 'Compression vs fidelity'),
          this.curveStatus,
          this.curveChart.element,
          this.curveTable,
          h('h3', {}, 'Module roles'),
          this.rolesBox,
          h('h3', {}, 'Banks'),
          this.banksBox,
        ),
      ),
    );

    const onChange = (): void => this.changed();
    for (const el of [this.preset, this.method, this.objective, this.loss, this.backend, this.templateDtype, this.shareRoles])
      el.addEventListener('change', onChange);
    for (const el of [this.templates, ...[...this.numbers.values()].map((n) => n.el)]) el.addEventListener('input', onChange);
    this.syncEnabled();
  }

  /** Re-draws the curve (theme change). */
  render(): void {
    if (!this.curve) return;
    this.curveChart.element.hidden = false;
    this.curveChart.show(curveOption(this.curve, this.theme()));
  }

  dispose(): void {
    this.curveChart.dispose();
  }

  curveProgress(p: CurveProgress): void {
    this.curveStatus.textContent = `Reading group ${p.bankIndex + 1} of ${p.banks} (${p.bank}): ${Math.floor(100 * p.fraction)}%`;
  }

  /** The worker's curve for the current plan: the chart, and per role the chosen point. */
  showCurve(outcome: CurveOutcome): void {
    if (!outcome.ok) {
      this.curve = undefined;
      this.curveStatus.textContent = `No curve: ${outcome.error}`;
      replace(this.curveTable);
      return;
    }
    this.curve = outcome.curve;
    this.curveStatus.textContent = this.noRoleSelected() ? 'Select a module role to see its curve.' : '';
    if (this.noRoleSelected()) return;
    this.render();
    const rows = outcome.curve.roles.map((r) =>
      h(
        'tr',
        { 'data-role': r.role },
        h('td', { class: 'mono' }, r.role),
        h('td', { class: 'num' }, String(r.chosen.n)),
        h('td', { class: 'num' }, `${formatNumber(r.chosen.ratio)}×`),
        h('td', { class: 'num' }, formatNumber(r.chosen.meanCosine, 5)),
        h('td', { class: 'num' }, formatNumber(r.chosen.minCosine, 5)),
        h('td', { class: 'num' }, formatNumber(r.chosen.relError, 4)),
        h(
          'td',
          { class: 'num' },
          r.points.map((p) => `${p.n}: ${formatNumber(p.ratio, 3)}× / ${formatNumber(p.meanCosine, 3)}`).join(' · '),
        ),
      ),
    );
    replace(
      this.curveTable,
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['role', 'chosen n', 'compression', 'mean cosine', 'min cosine', 'rel. error', 'every n: compression / mean cosine'].map(
              (c) => h('th', { scope: 'col' }, c),
            ),
          ),
        ),
        h('tbody', {}, ...rows),
      ),
    );
  }

  /** First plan request. */
  start(): void {
    this.changed();
  }

  private syncEnabled(): void {
    const optimizer = selected(this.method) !== 'spectral';
    for (const { el, spec } of this.numbers.values()) if (spec.optimizer) el.disabled = !optimizer;
    this.loss.disabled = !optimizer;
    this.backend.disabled = !optimizer;
    this.objective.disabled = selected(this.method) === 'paper';
  }

  private changed(): void {
    this.syncEnabled();
    const note = this.messages.get('preset');
    if (note) note.textContent = presetHelp(selected(this.preset));
    const o = this.options();
    if (o) {
      this.handlers.changed(o);
      this.handlers.plan(o);
    } else if (this.plan && this.noRoleSelected()) {
      this.showBudget(withoutBanks(this.plan));
      this.clearCurve('Select a module role to see its curve.');
    }
    this.runButton.disabled = o === undefined || this.plan === undefined;
  }

  private clearCurve(status: string): void {
    this.curve = undefined;
    this.curveChart.element.hidden = true;
    this.curveStatus.textContent = status;
    replace(this.curveTable);
  }

  private noRoleSelected(): boolean {
    return (
      this.plan !== undefined && this.plan.roles.length > 0 && this.plan.roles.every((r) => this.excluded.has(roleKey(r.prefix, r.role)))
    );
  }

  /** The options the form describes, or undefined (with messages shown) when a field is not a number. */
  options(): ReconstructOptions | undefined {
    const out: Record<string, unknown> = {
      preset: selected(this.preset),
      method: selected(this.method),
      shareRoles: this.shareRoles.checked,
      templateDtype: selected(this.templateDtype),
    };
    const optimizer = selected(this.method) !== 'spectral';
    if (selected(this.method) !== 'paper') out.objective = selected(this.objective);
    if (optimizer) {
      out.loss = selected(this.loss);
      out.backend = selected(this.backend);
    }
    let bad: string | undefined;
    const t = this.templates.value.trim();
    this.templates.invalid = false;
    if (t === 'exact') out.templates = 'exact';
    else if (t !== '') {
      const n = parsePositiveInt(t);
      if (n === undefined) {
        this.templates.invalid = true;
        bad = 'Templates n must be a positive whole number or “exact”.';
      } else out.templates = n;
    }
    for (const { el, spec } of this.numbers.values()) {
      el.invalid = false;
      if (spec.optimizer && !optimizer) continue;
      const text = el.value.trim();
      if (text === '') continue;
      const v = Number(text);
      if (!Number.isFinite(v) || (spec.integer && !Number.isInteger(v))) {
        el.invalid = true;
        bad ??= `${spec.label} must be ${spec.integer ? 'a whole number' : 'a number'}.`;
        continue;
      }
      out[spec.key] = v;
    }
    if (this.plan) {
      const all = this.plan.roles.map((r) => roleKey(r.prefix, r.role));
      const kept = all.filter((k) => !this.excluded.has(k));
      if (kept.length === 0) bad ??= 'Select at least one module role.';
      else if (kept.length < all.length) out.modules = kept;
    }
    this.localError = bad;
    if (bad) {
      this.errorBox.textContent = bad;
      this.runButton.disabled = true;
      return undefined;
    }
    return out as ReconstructOptions;
  }

  /** The engine's answer for the current options: budget and banks, or its validation message. */
  showPlan(outcome: PlanOutcome): void {
    for (const { el } of this.numbers.values()) el.invalid = false;
    this.templates.invalid = false;
    if (!outcome.ok) {
      this.plan = undefined;
      this.errorBox.textContent = outcome.error;
      const el = outcome.field === 'templates' ? this.templates : this.numbers.get(outcome.field as NumberKey)?.el;
      if (el) el.invalid = true;
      this.runButton.disabled = true;
      replace(this.budgetBox);
      replace(this.banksBox);
      this.clearCurve('');
      return;
    }
    this.plan = outcome.plan;
    if (!this.localError) this.errorBox.textContent = '';
    this.runButton.disabled = this.localError !== undefined;
    // A plan that was asked for before every role was unchecked must not bring its banks back.
    this.showBudget(this.noRoleSelected() ? withoutBanks(outcome.plan) : outcome.plan);
  }

  /** Budget cards, roles and banks of a plan (the engine's, or the no-role one). */
  private showBudget(p: PlanView): void {
    const o = p.options;
    this.templates.setAttribute('placeholder', `preset: ${String(o.templates)}${o.ratio !== null ? ` (ratio ${o.ratio})` : ''}`);
    this.numbers
      .get('blocksPerGroup')
      ?.el.setAttribute(
        'placeholder',
        o.blocksPerGroup !== null ? `preset: ${o.blocksPerGroup}` : `preset: ${o.groups ?? 1} group(s) per role`,
      );
    this.numbers.get('sets')?.el.setAttribute('placeholder', `preset: ${o.sets}`);
    for (const key of ['steps', 'lr', 'beta', 'noise', 'seed', 'probes'] as const)
      this.numbers.get(key)?.el.setAttribute('placeholder', `default: ${p.fit[key]}`);
    const b = p.budget;
    const card = (label: string, value: string, id: string): HTMLElement =>
      h('div', { class: 'card', 'data-card': id }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value));
    replace(
      this.budgetBox,
      card('Original parameters', formatCount(b.before), 'before'),
      card('After (templates + coefficients + copied)', formatCount(b.after), 'after'),
      card('Compression', `${formatNumber(b.ratio)}×`, 'ratio'),
      card('Template parameters', formatCount(b.templateParameters), 'templates'),
      card('Coefficients per task', formatCount(b.coefficientsPerTask), 'coefficients'),
      card('Copied unchanged', `${formatCount(b.passthroughParameters)} (${formatInteger(b.passthroughTensors)} tensors)`, 'passthrough'),
    );
    this.renderRoles(p);
    this.renderBanks(p);
  }

  private renderRoles(p: PlanView): void {
    if (p.roles.length === 0) {
      replace(this.rolesBox, h('p', { class: 'muted' }, 'No module role has the same shape in two or more numbered blocks.'));
      return;
    }
    replace(
      this.rolesBox,
      ...p.roles.map((r) => {
        const key = roleKey(r.prefix, r.role);
        const cb = checkbox(`${r.role}`, !this.excluded.has(key), 'role-checkbox');
        cb.setAttribute('data-role', key);
        cb.addEventListener('change', () => {
          if (cb.checked) this.excluded.delete(key);
          else this.excluded.add(key);
          this.changed();
        });
        return h(
          'div',
          { class: 'role' },
          cb,
          h(
            'span',
            { class: 'muted' },
            ` ${r.prefix ? `${r.prefix} · ` : ''}${formatShape(r.shape)} ${r.dtype} · ${r.blocks.length} blocks`,
          ),
        );
      }),
    );
  }

  private renderBanks(p: PlanView): void {
    if (p.banks.length === 0) {
      replace(this.banksBox, h('p', { class: 'muted', 'data-testid': 'no-banks' }, 'No bank: every tensor is copied unchanged.'));
      return;
    }
    const rows = p.banks.map((b) =>
      h(
        'tr',
        { 'data-bank': b.name },
        h('td', { class: 'mono' }, b.name),
        h(
          'td',
          {},
          h(
            'details',
            {},
            h('summary', {}, `${b.members.length} members`),
            h('ul', { class: 'mono members' }, ...b.members.map((m) => h('li', {}, m))),
          ),
        ),
        h('td', { class: 'mono' }, formatShape(b.shape)),
        h('td', { class: 'num' }, String(b.templates)),
        h('td', { class: 'num' }, String(b.sets)),
        h('td', { class: 'num' }, formatCount(b.parameters.before)),
        h('td', { class: 'num' }, formatCount(b.parameters.after)),
        h('td', { class: 'num' }, formatCount(b.coefficients)),
      ),
    );
    replace(
      this.banksBox,
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['bank', 'members', 'shape', 'n', 'K', 'params before', 'params after', 'coefficients'].map((c) =>
              h('th', { scope: 'col' }, c),
            ),
          ),
        ),
        h('tbody', {}, ...rows),
      ),
    );
  }

  get bankNames(): string[] {
    return this.plan?.banks.map((b) => b.name) ?? [];
  }
}

function roleKey(prefix: string, role: string): string {
  return prefix ? `${prefix}.${role}` : role;
}
