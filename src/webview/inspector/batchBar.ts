// "Compute all statistics" in the toolbar: the button, or progress + Cancel while the batch runs.
// Its elements are made once and updated in place: progress arrives many times a second, and a
// button rebuilt under the pointer would swallow clicks.
import type { BatchProgress, BatchState } from '../protocol';
import { formatInteger } from '../shared/format';
import { codicon, h, replace } from '../shared/dom';

type ProgressBar = HTMLElement & { value?: number; max: number };

export class BatchBar {
  readonly element: HTMLElement;
  private readonly running: HTMLElement;
  private readonly bar: ProgressBar;
  private readonly runningText: HTMLElement;
  private readonly idle: HTMLElement;
  private readonly note: HTMLElement;
  private readonly button: HTMLElement & { disabled: boolean };

  constructor(onCompute: () => void, onCancel: () => void) {
    this.bar = h('vscode-progress-bar', { 'aria-label': 'Statistics progress' }) as ProgressBar;
    this.runningText = h('span', { class: 'muted' });
    const cancel = h(
      'vscode-button',
      { secondary: true, icon: 'close', 'data-testid': 'cancel-all', title: 'Stop computing statistics' },
      'Cancel',
    );
    cancel.addEventListener('click', () => {
      // Say so at once; the worker stops between chunks and the final state follows.
      this.runningText.textContent = 'Cancelling…';
      onCancel();
    });
    this.running = h('div', { class: 'batch-running' }, h('div', { class: 'batch-progress' }, this.bar, this.runningText), cancel);
    this.note = h('span', { class: 'batch-note' });
    this.button = h(
      'vscode-button',
      { icon: 'pulse', 'data-testid': 'compute-all', title: 'Compute statistics for every tensor (runs in a worker; cancellable)' },
      'Compute all statistics',
    ) as HTMLElement & { disabled: boolean };
    this.button.addEventListener('click', () => {
      if (!this.button.disabled) onCompute();
    });
    this.idle = h('div', { class: 'batch-idle' }, this.note, this.button);
    this.element = h('div', { class: 'batch', 'aria-live': 'polite' }, this.running, this.idle);
    this.running.hidden = true;
  }

  set(batch: { state: BatchState; progress: BatchProgress; message?: string }, autoStats: boolean, anyDecodable: boolean): void {
    const { state, progress } = batch;
    const isRunning = state === 'running';
    this.running.hidden = !isRunning;
    this.idle.hidden = isRunning;
    if (isRunning) {
      this.bar.max = Math.max(1, progress.total);
      this.bar.value = progress.done;
      this.runningText.textContent = `Statistics ${formatInteger(progress.done)} / ${formatInteger(progress.total)}`;
      return;
    }
    this.button.disabled = !anyDecodable;
    // The call to action while statistics are missing; a quiet button once every one is there.
    this.button.toggleAttribute('secondary', state === 'done');
    this.button.textContent = state === 'cancelled' || state === 'error' ? 'Resume statistics' : 'Compute all statistics';
    switch (state) {
      case 'done':
        replace(this.note, codicon('check'), ' Statistics ready');
        this.note.className = 'batch-note muted';
        break;
      case 'cancelled':
        replace(this.note, `Cancelled at ${formatInteger(progress.done)} / ${formatInteger(progress.total)}`);
        this.note.className = 'batch-note muted';
        break;
      case 'error':
        replace(this.note, codicon('warning'), ` ${batch.message ?? 'Some statistics failed'}`);
        this.note.className = 'batch-note error-text';
        break;
      default:
        replace(this.note, autoStats ? '' : 'Large file: statistics on request');
        this.note.className = 'batch-note muted';
        this.note.title = autoStats ? '' : 'The file is larger than mimicry.inspector.autoStatsMaxBytes';
    }
  }
}
