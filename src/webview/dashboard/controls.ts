// Thin typed helpers over @vscode-elements controls (select, text field, checkbox, button).
import { h } from '../shared/dom';

export interface ValueElement extends HTMLElement {
  value: string;
  invalid?: boolean;
  disabled?: boolean;
}

export interface CheckElement extends HTMLElement {
  checked: boolean;
  disabled: boolean;
}

export function select(id: string, options: readonly (readonly [string, string])[], value: string, testId?: string): ValueElement {
  const el = h('vscode-single-select', { id, 'data-testid': testId, 'data-value': value }) as ValueElement;
  for (const [v, label] of options) el.appendChild(h('vscode-option', { value: v, selected: v === value }, label));
  el.value = value;
  // The element reports "" until it has rendered its options: keep our own copy of the choice.
  el.addEventListener('change', () => {
    if (el.value) el.setAttribute('data-value', el.value);
  });
  return el;
}

/** A select's current choice (also before the element has rendered). */
export function selected(el: ValueElement): string {
  return el.value || el.getAttribute('data-value') || '';
}

export function textfield(id: string, value: string, placeholder: string, testId?: string): ValueElement {
  const el = h('vscode-textfield', { id, placeholder, 'data-testid': testId }) as ValueElement;
  el.value = value;
  return el;
}

export function checkbox(label: string, checked: boolean, testId?: string): CheckElement {
  const el = h('vscode-checkbox', { label, 'data-testid': testId }) as CheckElement;
  el.checked = checked;
  return el;
}

export function button(
  text: string,
  testId: string,
  onClick: () => void,
  secondary = false,
  title?: string,
): HTMLElement & { disabled: boolean } {
  const el = h('vscode-button', { 'data-testid': testId, secondary, title }, text) as HTMLElement & { disabled: boolean };
  el.addEventListener('click', () => {
    if (!el.disabled) onClick();
  });
  return el;
}

/** A labelled form row: label, control, and a help / error line under it. */
export function field(label: string, control: HTMLElement, help: string): { row: HTMLElement; message: HTMLElement } {
  const message = h('div', { class: 'field-help' }, help);
  const id = control.id;
  const row = h('div', { class: 'field' }, h('vscode-label', { for: id }, label), control, message);
  return { row, message };
}
