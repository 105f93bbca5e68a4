// While a reconstruction runs: the live loss curve, per-group status, the phase, and Cancel.
import type { ProgressEvent, RunPhase } from '../protocol';
import { formatNumber } from '../shared/format';
import { h, replace } from '../shared/dom';
import { ChartHost } from './chartHost';
import { lossOption } from './chartOptions';
import { button } from './controls';
import { DEFINITIONS } from '../../mimicry/dashboard/definitions';
import { LossTracker } from './model';
import type { DashboardTheme } from '../shared/theme';

const PHASES: Record<RunPhase, string> = {
  fit: 'Fitting templates and coefficients',
  fidelity: 'Measuring per-layer fidelity',
  diversity: 'Measuring template diversity',
  entropy: 'Measuring template entropy',
  spectra: 'Measuring singular-value spectra',
  digest: 'Hashing the source (SHA-256)',
  write: 'Writing',
};

export class RunView {
  readonly element: HTMLElement;
  private readonly tracker: LossTracker;
  private readonly chart: ChartHost;
  private readonly statusBody = h('tbody');
  private readonly phase = h('p', { class: 'phase', 'data-testid': 'run-phase', 'aria-live': 'polite' }, PHASES.fit);
  /** Progress inside the current phase (of this bank's layers, templates or spectra). */
  private readonly phaseBar = h('vscode-progress-bar', {
    'aria-label': 'Progress of the phase',
    'data-testid': 'run-phase-progress',
  }) as HTMLElement & {
    value?: number;
    max: number;
  };
  private readonly cancelButton: HTMLElement & { disabled: boolean };
  private pending = 0;

  constructor(
    groups: readonly string[],
    private readonly theme: () => DashboardTheme,
    onCancel: () => void,
  ) {
    this.tracker = new LossTracker(groups);
    this.chart = new ChartHost('loss', 'loss-chart', `Loss. ${DEFINITIONS.loss}`, () => theme().background, undefined, 320);
    this.cancelButton = button(
      'Cancel',
      'cancel-button',
      () => {
        this.cancelButton.disabled = true;
        this.phase.textContent = 'Cancelling…';
        onCancel();
      },
      true,
    );
    this.element = h(
      'section',
      { class: 'run', 'data-testid': 'run-view' },
      h(
        'div',
        { class: 'run-head' },
        h('h2', {}, 'Reconstructing'),
        h('vscode-progress-ring', { 'aria-label': 'running' }),
        this.cancelButton,
      ),
      this.phase,
      this.phaseBar,
      this.chart.element,
      h('h3', {}, 'Groups'),
      h(
        'table',
        { class: 'table', 'data-testid': 'group-status' },
        h('thead', {}, h('tr', {}, ...['group', 'status', 'step', 'loss'].map((c) => h('th', { scope: 'col' }, c)))),
        this.statusBody,
      ),
    );
  }

  progress(phase: RunPhase, event?: ProgressEvent, message?: string, phaseFraction?: number): void {
    if (event) this.tracker.add(event);
    if (phase === 'spectra' || phase === 'digest' || phase === 'write') this.tracker.finish();
    // The closed form's loss arrives after its bank is measured: it feeds the curve, not the phase line.
    const lossOnly = phase === 'fit' && event !== undefined && event.steps === 0;
    if (!lossOnly) {
      this.phase.textContent = message ? `${PHASES[phase]}: ${message}` : PHASES[phase];
      this.phaseBar.max = 1;
      if (phaseFraction === undefined) this.phaseBar.removeAttribute('value');
      else this.phaseBar.value = Math.min(1, Math.max(0, phaseFraction));
    }
    // Many events per second: draw once per frame.
    if (!this.pending)
      this.pending = requestAnimationFrame(() => {
        this.pending = 0;
        this.render();
      });
  }

  render(): void {
    this.chart.show(lossOption(this.tracker.statuses, this.theme()));
    replace(
      this.statusBody,
      ...this.tracker.statuses.map((g) =>
        h(
          'tr',
          { 'data-group': g.group, 'data-state': g.state },
          h('td', { class: 'mono' }, g.group),
          h('td', {}, g.state),
          h('td', { class: 'num' }, g.steps > 0 ? `${g.step} / ${g.steps}` : g.state === 'done' ? 'closed form' : '—'),
          h('td', { class: 'num' }, formatNumber(g.loss)),
        ),
      ),
    );
  }

  dispose(): void {
    if (this.pending) cancelAnimationFrame(this.pending);
    this.chart.dispose();
  }
}
