// The two message areas every page shares: errors (role=alert) and status notes (role=status).

import { ApiError } from './api.js';
import { h, clear } from './dom.js';

let errorArea;
let statusArea;
let statusTimer = 0;

export function setup(errors, status) {
  errorArea = errors;
  statusArea = status;
}

/** Show an error's message; a request the page itself cancelled is no error. */
export function showError(error) {
  if (error?.name === 'AbortError') return;
  const message = error?.message || String(error);
  clear(
    errorArea,
    h('p', { text: message }),
    h('button', { type: 'button', class: 'quiet', on: { click: () => clear(errorArea) } }, 'Dismiss'),
  );
  if (!(error instanceof ApiError)) console.error(error); // a fault in the page, not a refusal
}

export function info(message) {
  statusArea.textContent = message;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => (statusArea.textContent = ''), 8000);
}

export function clearMessages() {
  clear(errorArea);
  statusArea.textContent = '';
}

/** Run an action for a control: disabled while it runs, its error shown. */
export async function act(control, fn) {
  if (control) {
    control.disabled = true;
    control.setAttribute('aria-busy', 'true');
  }
  try {
    return await fn();
  } catch (error) {
    showError(error);
    return undefined;
  } finally {
    if (control) {
      control.disabled = false;
      control.removeAttribute('aria-busy');
    }
  }
}

/** A form's submit runs fn (its submit button disabled meanwhile) instead of navigating. */
export function onSubmit(form, fn) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(event.submitter ?? form.querySelector('button[type=submit]'), () => fn(event));
  });
  return form;
}
