// Building elements from data without innerHTML: every string becomes a text node.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'multiple', 'required']);
const SVG_NS = 'http://www.w3.org/2000/svg';

function build(element, props, children) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.setAttribute('class', value);
    else if (key === 'text') element.textContent = value;
    else if (key === 'on') {
      for (const [type, handler] of Object.entries(value)) element.addEventListener(type, handler);
    } else if (PROPERTIES.has(key)) element[key] = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** h('button', {class: 'x', on: {click}}, 'text', child, ...) */
export const h = (tag, props, ...children) => build(document.createElement(tag), props, children);

/** The same for SVG elements. */
export const s = (tag, props, ...children) =>
  build(document.createElementNS(SVG_NS, tag), props, children);

export function clear(element, ...children) {
  element.replaceChildren();
  return build(element, null, children);
}

let counter = 0;
export const uid = (prefix = 'f') => `${prefix}-${++counter}`;

/** A control with its <label for>, and an optional hint tied to it by aria-describedby. */
export function field(labelText, control, hint) {
  if (!control.id) control.id = uid();
  const parts = [h('label', { for: control.id, text: labelText }), control];
  if (hint) {
    const hintId = uid('hint');
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('small', { id: hintId, class: 'hint', text: hint }));
  }
  return h('div', { class: control.type === 'checkbox' ? 'field check' : 'field' }, ...parts);
}

/** A checkbox with its label after it. */
export function checkbox(labelText, props = {}) {
  const box = h('input', { type: 'checkbox', id: uid(), ...props });
  return { box, el: h('div', { class: 'field check' }, box, h('label', { for: box.id, text: labelText })) };
}

/** A <select> of [value, label] pairs. */
export function select(options, props = {}) {
  return h('select', props, options.map(([value, label]) => h('option', { value, text: label ?? value })));
}

/** A table with column headers, or a short paragraph when there are no rows. */
export function table(caption, columns, rows, emptyText = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'empty', text: emptyText });
  return h(
    'table',
    null,
    h('caption', { text: caption }),
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c) => h('td', null, c))))),
  );
}

/** A heading and body in a <section> labelled by the heading. */
export function section(title, ...children) {
  const id = uid('h');
  return h('section', { 'aria-labelledby': id, class: 'card' }, h('h2', { id, text: title }), ...children);
}

export function fmtTime(seconds) {
  if (!seconds) return '—';
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const fmtMs = (ms) => fmtTime(ms ? ms / 1000 : 0);

export function fmtBytes(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export const shortId = (id, n = 12) => (id && id.length > n ? `${id.slice(0, n)}…` : id ?? '');

/** "a, b ,c" → ['a', 'b', 'c'] */
export const splitList = (text) => text.split(/[,\n]/).map((t) => t.trim()).filter(Boolean);

export const truncate = (text, n = 280) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** Run fn every ms milliseconds until it returns false or the signal aborts; fn's errors are
 * handed to onError and do not stop the polling. */
export function poll(fn, ms, signal, onError) {
  let timer = 0;
  let stopped = false;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  const tick = async () => {
    let again = true;
    try {
      again = (await fn()) !== false;
    } catch (error) {
      onError?.(error);
    }
    if (again && !stopped && !signal.aborted) timer = setTimeout(tick, ms);
  };
  signal.addEventListener('abort', stop);
  timer = setTimeout(tick, ms);
  return stop;
}
