// One function: its settings, and tabs for monitoring, code, invoking with live logs, triggers,
// dead letters and versions.

import {h, replace, notice, num, ms, pct, when} from './dom.js';
import {get, fn} from './api.js';
import {chart} from './chart.js';
import {record, samples} from './samples.js';
import {codeTab} from './code.js';
import {invokeTab} from './invoke.js';
import {dlqTab} from './dlq.js';
import {triggersTab} from './triggers.js';

const tabs = [
  ['monitoring', 'Monitoring'],
  ['code', 'Code'],
  ['invoke', 'Invoke & logs'],
  ['triggers', 'Triggers'],
  ['dlq', 'Dead letters'],
  ['versions', 'Versions'],
];

export function functionPage(main, {name, tab, version}, life) {
  const head = h('div', {class: 'fn-head'}, h('p', {class: 'muted'}, 'Loading ' + name + '…'));
  const body = h('div', {class: 'tab-body', id: 'tab-' + tab});
  main.append(
    h('div', {class: 'crumbs'}, h('a', {href: '#/'}, 'Functions'), ' / ', h('span', null, name)),
    head,
    h('nav', {class: 'tabs', role: 'tablist'}, tabs.map(([id, label]) =>
      h('a', {href: '#/functions/' + encodeURIComponent(name) + '/' + id, role: 'tab', class: id === tab ? 'active' : null, 'aria-selected': String(id === tab)}, label))),
    body);

  const loadHead = async () => {
    try {
      const d = await get(fn(name), {signal: life.signal});
      record(name, d.scale);
      replace(head, header(d));
      return d;
    } catch (e) {
      if (e.name !== 'AbortError') replace(head, notice('error', e.status === 404 ? 'No function ' + name + '.' : 'Could not load ' + name + ': ' + e.message));
      return null;
    }
  };
  loadHead();
  switch (tab) {
    case 'code':
      codeTab(body, name, life, loadHead, version);
      break;
    case 'invoke':
      invokeTab(body, name, life);
      break;
    case 'triggers':
      triggersTab(body, name, life);
      break;
    case 'dlq':
      dlqTab(body, name, life);
      break;
    case 'versions':
      versionsTab(body, name, life);
      break;
    default:
      monitoringTab(body, name, life);
  }
}

function header({function: f, version: v}) {
  const c = v.config;
  const fact = (label, value) => h('div', {class: 'fact'}, h('span', {class: 'muted'}, label), h('b', null, value));
  return [
    h('div', {class: 'title-row'}, h('h1', null, f.name), h('span', {class: 'pill'}, c.runtime), h('span', {class: 'pill'}, 'v' + f.latest),
      c.public ? h('span', {class: 'pill warn-pill', title: 'its function URL needs no token'}, 'public') : null),
    c.description ? h('p', {class: 'muted'}, c.description) : null,
    h('div', {class: 'facts'},
      fact('Handler', h('code', null, c.handler)),
      fact('Memory', c.memoryMB + ' MB'),
      fact('Timeout', c.timeout),
      fact('Instances', 'min ' + c.min + ' · max ' + c.max + ' · ' + c.concurrency + ' per instance'),
      fact('Async', ['retries ' + c.retries, 'max age ' + (c.maxEventAge || '6h0m0s'),
        c.onSuccess ? 'on success → ' + c.onSuccess : null,
        c.onFailure ? 'on failure → ' + c.onFailure : null].filter(Boolean).join(' · ')),
      fact('Updated', when(f.updated))),
  ];
}

// Ranges of the monitoring charts, with the step the metrics API is asked for.
const ranges = [
  {label: '15 min', since: '15m', step: '15s', ms: 15 * 60e3},
  {label: '1 hour', since: '1h', step: '1m', ms: 3600e3},
  {label: '6 hours', since: '6h', step: '5m', ms: 6 * 3600e3},
  {label: '24 hours', since: '24h', step: '15m', ms: 24 * 3600e3},
];

function monitoringTab(body, name, life) {
  let range = ranges.find(r => r.since === sessionStorage.getItem('sluice.range')) || ranges[0];
  const picker = h('div', {class: 'segmented', role: 'group', 'aria-label': 'time range'});
  const tiles = h('div', {class: 'tiles'});
  const charts = h('div', {class: 'charts'});
  const status = h('div');
  body.append(h('div', {class: 'toolbar'}, h('h2', null, 'Monitoring'), h('span', {class: 'spacer'}), picker), status, tiles, charts);

  let last = {metrics: null, missing: false};
  const draw = () => {
    if (charts.querySelector('.chart:hover')) return; // keep the chart under the pointer still
    const now = Date.now();
    drawTiles(tiles, last);
    drawCharts(charts, name, range, last, now);
  };
  const drawPicker = () => replace(picker, ranges.map(r => h('button', {type: 'button', class: r === range ? 'active' : null, onclick: () => {
    range = r;
    sessionStorage.setItem('sluice.range', r.since);
    drawPicker();
    refresh().catch(e => life.onError(e));
  }}, r.label)));
  const refresh = async () => {
    const [d, m] = await Promise.allSettled([
      get(fn(name), {signal: life.signal}),
      get(fn(name, `/metrics?since=${range.since}&step=${range.step}`), {signal: life.signal}),
    ]);
    if (d.status === 'fulfilled') record(name, d.value.scale);
    if (m.status === 'fulfilled') last = {metrics: m.value, missing: false};
    else if (m.reason.missing) last = {metrics: null, missing: true};
    else if (m.reason.name !== 'AbortError') throw m.reason;
    replace(status);
    draw();
  };
  life.onError = e => replace(status, notice('error', 'Could not load the metrics: ' + e.message));
  drawPicker();
  life.every(5000, refresh);
}

function drawTiles(tiles, {metrics, missing}) {
  if (!metrics) {
    tiles.className = missing ? '' : 'tiles';
    replace(tiles, missing ? notice('info', 'This node serves no metrics API yet: the charts below show only the scale this page samples.') : null);
    return;
  }
  tiles.className = 'tiles';
  const s = metrics.summary || {};
  const inv = s.invocations || 0;
  const failed = s.errors || 0; // every outcome but ok, timeouts included
  const tile = (label, value, sub, cls) => h('div', {class: 'tile' + (cls ? ' ' + cls : '')}, h('div', {class: 'tile-label'}, label), h('div', {class: 'tile-value'}, value), sub ? h('div', {class: 'tile-sub muted'}, sub) : null);
  const outcomes = Object.entries(s.outcomes || {}).filter(([, n]) => n > 0).map(([k, n]) => k + ' ' + num(n)).join(' · ');
  replace(tiles,
    tile('Invocations', num(inv), num(s.ratePerSec) + ' / s'),
    tile('Errors', num(failed), inv ? pct(failed / inv) + ' of invocations' + (s.timeouts ? ' · ' + num(s.timeouts) + ' timed out' : '') : null, failed ? 'bad' : null),
    tile('Duration p50', ms(inv ? s.p50Ms : null), 'p95 ' + ms(inv ? s.p95Ms : null)),
    tile('Duration p99', ms(inv ? s.p99Ms : null)),
    tile('Cold starts', num(s.coldStarts || 0), inv ? pct((s.coldStarts || 0) / inv) + ' of invocations' : null),
    tile('Throttled', num(s.throttled || 0)),
    tile('Compute', num(s.gbSeconds || 0) + ' GB-s', outcomes || null));
}

// points turns metrics series into chart points of one field; keep filters entries.
function points(series, field, keep = () => true) {
  return (series || []).filter(e => e[field] !== undefined && e[field] !== null && keep(e)).map(e => ({t: Date.parse(e.t), v: Number(e[field])}));
}

function drawCharts(el, name, range, {metrics, missing}, now) {
  let to = now;
  let from = now - range.ms;
  if (metrics) {
    const until = Date.parse(metrics.until);
    const since = Date.parse(metrics.since);
    if (Number.isFinite(until)) to = until;
    from = Number.isFinite(since) ? since : to - range.ms;
  }
  const series = metrics ? metrics.series || [] : [];
  const none = missing ? 'metrics unavailable on this node' : 'no data yet';
  const count = v => num(v);
  const ran = e => (e.invocations || 0) > 0; // a step without invocations has no duration
  const sampled = samples(name);
  const hasField = f => series.some(e => e[f] !== undefined && e[f] !== null);
  const sample = f => sampled.map(x => ({t: x.t, v: x[f]}));
  const sampleNote = 'sampled by this page every 5 s';

  const instances = hasField('running')
    ? {series: [{label: 'running', color: 'teal', points: points(series, 'running')}, {label: 'in flight', color: 'violet', points: points(series, 'concurrency')}], note: ''}
    : {series: [{label: 'running', color: 'teal', points: sample('running')}, {label: 'desired', color: 'amber', points: sample('desired')}, {label: 'in flight', color: 'violet', points: points(series, 'concurrency')}], note: 'running and desired ' + sampleNote};
  const lag = hasField('lag')
    ? {series: [{label: 'lag', color: 'amber', points: points(series, 'lag')}], note: ''}
    : {series: [{label: 'lag', color: 'amber', points: sample('lag')}], note: sampleNote};

  replace(el,
    chart({title: 'Invocations', from, to, integer: true, format: count, empty: none,
      series: [{label: 'invocations', color: 'blue', points: points(series, 'invocations')}, {label: 'errors', color: 'red', points: points(series, 'errors')}]}),
    chart({title: 'Errors', from, to, integer: true, format: count, empty: none,
      series: [{label: 'errors', color: 'red', points: points(series, 'errors')}]}),
    chart({title: 'Duration', from, to, format: ms, empty: none,
      series: [{label: 'p50', color: 'blue', points: points(series, 'p50Ms', ran)}, {label: 'p99', color: 'violet', points: points(series, 'p99Ms', ran)}]}),
    chart({title: 'Cold starts', from, to, integer: true, format: count, empty: none,
      series: [{label: 'cold starts', color: 'amber', points: points(series, 'coldStarts')}]}),
    chart({title: 'Instances', from, to, integer: true, format: count, note: instances.note, series: instances.series}),
    chart({title: 'Lag', from, to, integer: true, format: count, note: lag.note, series: lag.series}));
}

function versionsTab(body, name, life) {
  const out = h('div', null, h('p', {class: 'muted'}, 'Loading versions…'));
  body.append(h('div', {class: 'toolbar'}, h('h2', null, 'Versions')), out);
  Promise.all([get(fn(name, '/versions'), {signal: life.signal}), get(fn(name), {signal: life.signal})]).then(([{versions}, d]) => {
    const aliases = {};
    for (const [a, al] of Object.entries(d.function.aliases || {})) (aliases[al.version] ||= []).push(a);
    const rows = [...versions].sort((a, b) => b.version - a.version);
    replace(out, h('table', {class: 'grid-table versions'},
      h('thead', null, h('tr', null, h('th', {class: 'num'}, 'Version'), h('th', null, 'Created'), h('th', null, 'Runtime'),
        h('th', null, 'Handler'), h('th', {class: 'num'}, 'Memory'), h('th', null, 'Code'), h('th', null, 'Origin'), h('th'))),
      h('tbody', null, rows.map(v => h('tr', {'data-version': v.version},
        h('td', {class: 'num'}, 'v' + v.version, v.version === d.function.latest ? h('span', {class: 'pill ok-pill'}, 'latest') : null,
          (aliases[v.version] || []).map(a => h('span', {class: 'pill'}, a))),
        h('td', null, when(v.created)),
        h('td', null, v.config.runtime),
        h('td', {class: 'mono'}, v.config.handler),
        h('td', {class: 'num'}, v.config.memoryMB + ' MB'),
        h('td', {class: 'mono', title: v.code.sha256}, (v.code.sha256 || '').slice(0, 12)),
        h('td', {class: 'muted'}, v.origin || 'upload'),
        h('td', null, h('a', {href: '#/functions/' + encodeURIComponent(name) + '/code/' + v.version}, 'View code')))))));
  }).catch(e => {
    if (e.name !== 'AbortError') replace(out, notice('error', 'Could not load the versions: ' + e.message));
  });
}
