// The function list: every function with its health, refreshed every few seconds.

import {h, replace, notice, num, pct, ms, ago, sum, clock} from './dom.js';
import {get, fn} from './api.js';
import {record} from './samples.js';

const window_ = '15m'; // the "recent" of the error rate and invocation counts

// health names a function's state from its recent metrics and scale.
export function health(summary, scale) {
  const inv = summary ? summary.invocations || 0 : 0;
  const bad = summary ? summary.errors || 0 : 0; // every outcome but ok
  const running = scale ? sum(scale.running) : 0;
  if (scale && scale.lag > 0 && running === 0) return {cls: 'warn', label: 'waiting', why: scale.lag + ' events wait and no instance runs'};
  if (inv > 0 && bad / inv >= 0.1) return {cls: 'bad', label: 'failing', why: pct(bad / inv) + ' of recent invocations failed'};
  if (bad > 0) return {cls: 'warn', label: 'errors', why: bad + ' recent invocations failed'};
  if (!summary && !scale) return {cls: 'idle', label: 'unknown', why: 'no metrics'};
  if (inv === 0) return {cls: 'idle', label: 'idle', why: 'no invocations in the last ' + window_};
  return {cls: 'ok', label: 'healthy', why: 'no failures in the last ' + window_};
}

export function functionsPage(main, _params, life) {
  const status = h('span', {class: 'muted small'});
  const body = h('div', null, h('p', {class: 'muted'}, 'Loading functions…'));
  const search = h('input', {type: 'search', placeholder: 'filter by name', 'aria-label': 'filter functions by name', value: sessionStorage.getItem('sluice.filter') || ''});
  const filter = () => {
    const q = search.value.trim().toLowerCase();
    sessionStorage.setItem('sluice.filter', search.value);
    for (const tr of body.querySelectorAll('tr[data-function]')) tr.hidden = !tr.dataset.function.includes(q);
  };
  search.addEventListener('input', filter);
  main.append(h('div', {class: 'page-head'}, h('h1', null, 'Functions'), status, h('span', {class: 'spacer'}), search), body);
  life.onError = e => replace(body, notice('error', 'Could not load the functions: ' + e.message));

  life.every(5000, async () => {
    const {functions} = await get('/v1/functions', {signal: life.signal});
    if (!functions.length) {
      replace(body, h('div', {class: 'card empty-state'},
        h('h2', null, 'No functions yet'),
        h('p', null, 'Deploy one from a terminal, then it shows here:'),
        h('pre', {class: 'code'}, "sluice deploy hello --runtime python --handler main.handler \\\n  --inline 'def handler(event, context):\n    return {\"hello\": event}'")));
      status.textContent = '';
      return;
    }
    const rows = await Promise.all(functions.map(async f => {
      const [detail, metrics] = await Promise.allSettled([
        get(fn(f.name), {signal: life.signal}),
        get(fn(f.name, '/metrics?since=' + window_), {signal: life.signal}),
      ]);
      const scale = detail.status === 'fulfilled' ? detail.value.scale : null;
      if (scale) record(f.name, scale);
      return {f, scale, summary: metrics.status === 'fulfilled' ? metrics.value.summary : null};
    }));
    replace(body, table(rows));
    filter();
    status.textContent = 'updated ' + clock(Date.now());
  });
}

function table(rows) {
  return h('table', {class: 'grid-table functions'},
    h('thead', null, h('tr', null,
      h('th', null, 'Function'), h('th', null, 'Health'), h('th', null, 'Runtime'), h('th', {class: 'num'}, 'Version'),
      h('th', {class: 'num', title: 'running / desired'}, 'Instances'), h('th', {class: 'num'}, 'Lag'),
      h('th', {class: 'num'}, 'Invocations (' + window_ + ')'), h('th', {class: 'num'}, 'Error rate'),
      h('th', {class: 'num'}, 'p99'), h('th', null, 'Updated'))),
    h('tbody', null, rows.map(({f, scale, summary}) => {
      const st = health(summary, scale);
      const inv = summary ? summary.invocations || 0 : null;
      const bad = summary ? summary.errors || 0 : null;
      return h('tr', {'data-function': f.name},
        h('td', null, h('a', {href: '#/functions/' + encodeURIComponent(f.name), class: 'fn-link'}, f.name),
          h('div', {class: 'muted small mono'}, f.handler)),
        h('td', null, h('span', {class: 'status ' + st.cls, title: st.why}, st.label)),
        h('td', null, h('span', {class: 'pill'}, f.runtime)),
        h('td', {class: 'num'}, 'v' + f.latest),
        h('td', {class: 'num'}, scale ? sum(scale.running) + ' / ' + scale.desired : '—'),
        h('td', {class: 'num'}, scale ? num(scale.lag) : '—'),
        h('td', {class: 'num'}, num(inv)),
        h('td', {class: 'num' + (bad ? ' bad-text' : '')}, inv ? pct(bad / inv) : '—'),
        h('td', {class: 'num'}, summary && inv ? ms(summary.p99Ms) : '—'),
        h('td', {class: 'muted'}, ago(f.updated)));
    })));
}
