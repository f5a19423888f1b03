// The billing page: requests and GB-seconds per function over a period, priced, with totals.

import {h, replace, notice, num, when} from './dom.js';
import {get} from './api.js';

const periods = [
  {label: '1 hour', since: '1h'},
  {label: '24 hours', since: '24h'},
  {label: '7 days', since: '168h'},
  {label: '30 days', since: '720h'},
];

function money(currency) {
  const digits = {minimumFractionDigits: 2, maximumFractionDigits: 6};
  let f;
  try {
    f = new Intl.NumberFormat(undefined, /^[A-Z]{3}$/.test(currency || '') ? {style: 'currency', currency, ...digits} : digits);
  } catch {
    f = new Intl.NumberFormat(undefined, digits);
  }
  return v => (v === undefined || v === null ? '—' : f.format(v));
}

export function billingPage(main, _params, life) {
  let period = periods.find(p => p.since === sessionStorage.getItem('sluice.billing')) || periods[1];
  const picker = h('div', {class: 'segmented', role: 'group', 'aria-label': 'period'});
  const out = h('div', null, h('p', {class: 'muted'}, 'Loading the bill…'));
  main.append(h('div', {class: 'page-head'}, h('h1', null, 'Billing'), h('span', {class: 'spacer'}), picker), out);

  const load = async () => {
    let bill;
    try {
      bill = await get('/v1/billing?since=' + period.since, {signal: life.signal});
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(out, e.missing ? notice('info', 'This node serves no billing API yet.') : notice('error', 'Could not load the bill: ' + e.message));
      return;
    }
    replace(out, render(bill));
  };
  const drawPicker = () => replace(picker, periods.map(p => h('button', {type: 'button', class: p === period ? 'active' : null, onclick: () => {
    period = p;
    sessionStorage.setItem('sluice.billing', p.since);
    drawPicker();
    load();
  }}, p.label)));
  drawPicker();
  load();
}

function render(bill) {
  const m = money(bill.currency);
  const fns = [...(bill.functions || [])].sort((a, b) => (b.cost || 0) - (a.cost || 0));
  const t = bill.total || {};
  const prices = Object.entries(bill.prices || {}).map(([k, v]) => h('span', {class: 'pill'}, k + ' ', h('b', null, typeof v === 'number' ? num(v) : String(v))));
  const row = (cells, attrs) => h('tr', attrs, cells.map(([v, cls]) => h('td', {class: cls || null}, v)));
  return [
    h('div', {class: 'tiles'},
      h('div', {class: 'tile'}, h('div', {class: 'tile-label'}, 'Total'), h('div', {class: 'tile-value', id: 'bill-total'}, m(t.cost))),
      h('div', {class: 'tile'}, h('div', {class: 'tile-label'}, 'Requests'), h('div', {class: 'tile-value'}, num(t.requests))),
      h('div', {class: 'tile'}, h('div', {class: 'tile-label'}, 'Compute'), h('div', {class: 'tile-value'}, num(t.gbSeconds) + ' GB-s'))),
    h('p', {class: 'muted small'}, 'From ', when(bill.since), ' to ', when(bill.until), bill.currency ? ' · prices in ' + bill.currency : ''),
    prices.length ? h('div', {class: 'prices'}, prices) : null,
    fns.length ? h('table', {class: 'grid-table billing'},
      h('thead', null, h('tr', null, h('th', null, 'Function'), h('th', {class: 'num'}, 'Requests'), h('th', {class: 'num'}, 'GB-seconds'),
        h('th', {class: 'num'}, 'Request cost'), h('th', {class: 'num'}, 'Compute cost'), h('th', {class: 'num'}, 'Cost'))),
      h('tbody', null, fns.map(f => row([
        [h('a', {href: '#/functions/' + encodeURIComponent(f.function)}, f.function)],
        [num(f.requests), 'num'], [num(f.gbSeconds), 'num'], [m(f.requestCost), 'num'], [m(f.computeCost), 'num'], [m(f.cost), 'num strong'],
      ], {'data-function': f.function}))),
      h('tfoot', null, row([['Total'], [num(t.requests), 'num'], [num(t.gbSeconds), 'num'], [m(t.requestCost), 'num'], [m(t.computeCost), 'num'], [m(t.cost), 'num strong']])))
      : h('div', {class: 'card empty-state'}, h('h3', null, 'Nothing billed in this period'), h('p', {class: 'muted'}, 'Invocations show here once they finish.')),
  ];
}
