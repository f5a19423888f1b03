// Small DOM helpers: element builders and formatting. No framework: pages build their elements
// with h() and s() and replace them when data changes.

const SVG = 'http://www.w3.org/2000/svg';

// append adds children (nodes, strings, numbers, arrays of them; null and false are skipped).
function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return append(el, children);
}

// h makes an HTML element: h('a', {href: '#/', class: 'x', onclick: f}, 'text', child).
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s makes an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

// replace swaps el's children for the given ones.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const intFmt = new Intl.NumberFormat(undefined, {maximumFractionDigits: 0});
const numFmt = new Intl.NumberFormat(undefined, {maximumFractionDigits: 2});

// num formats a count; "—" when there is none.
export function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return Number.isInteger(n) ? intFmt.format(n) : numFmt.format(n);
}

// ms formats a duration in milliseconds.
export function ms(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v >= 1000) return numFmt.format(v / 1000) + ' s';
  if (v >= 10) return intFmt.format(v) + ' ms';
  return numFmt.format(v) + ' ms';
}

// pct formats a ratio (0.05 → "5%").
export function pct(r) {
  if (r === null || r === undefined || Number.isNaN(r)) return '—';
  if (r === 0) return '0%';
  if (r < 0.001) return '<0.1%';
  return new Intl.NumberFormat(undefined, {maximumFractionDigits: r < 0.1 ? 1 : 0}).format(r * 100) + '%';
}

// bytes formats a size.
export function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1 << 20) return numFmt.format(n / 1024) + ' KiB';
  return numFmt.format(n / (1 << 20)) + ' MiB';
}

// clock formats a time of day, with seconds.
export function clock(t) {
  return new Date(t).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false});
}

// when formats a date and time.
export function when(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return '—';
  return d.toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false});
}

// ago formats how long ago t was.
export function ago(t) {
  const d = (Date.now() - new Date(t).getTime()) / 1000;
  if (Number.isNaN(d)) return '—';
  if (d < 60) return 'just now';
  if (d < 3600) return Math.floor(d / 60) + ' min ago';
  if (d < 86400) return Math.floor(d / 3600) + ' h ago';
  return Math.floor(d / 86400) + ' d ago';
}

// sum adds the values of an object of numbers ({"worker-a": 2, "worker-b": 1} → 3).
export function sum(o) {
  return Object.values(o || {}).reduce((a, b) => a + (Number(b) || 0), 0);
}

// notice is a message box: kind is info, error or ok.
export function notice(kind, ...children) {
  return h('div', {class: 'notice ' + kind, role: kind === 'error' ? 'alert' : 'status'}, ...children);
}
