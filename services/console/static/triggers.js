// The triggers tab: every trigger of the function with its state (and how its events come, where
// the adapter says), a delete button each, and a form that subscribes the function to
// CloudEvents sent to the node by filters on their type, source and subject.

import {h, replace, notice, when, num} from './dom.js';
import {get, request} from './api.js';

// source says where a trigger's events come from, as `sluice trigger list` does.
function source(t) {
  if (t.cron) return t.cron.expr + (t.cron.tz ? ' (' + t.cron.tz + ')' : '');
  if (t.storage) return 's3://' + t.storage.bucket + '/' + (t.storage.prefix || '') + '*' + (t.storage.suffix || '');
  if (t.queue) return t.queue.url;
  if (t.http) return (t.http.method || 'ANY') + ' /r' + t.http.path;
  if (t.cloudevents) return filters(t.cloudevents);
  return '';
}

// The filters of a subscription, by attribute and how each matches.
const attrs = ['type', 'source', 'subject'];
const ways = [['', 'is', '='], ['Prefix', 'starts with', '^='], ['Suffix', 'ends with', '$=']];

function filters(ce) {
  const parts = [];
  for (const a of attrs) for (const [suffix, , op] of ways) {
    const v = ce[a + suffix];
    if (v) parts.push(a + op + v);
  }
  return parts.length ? parts.join(' ') : 'every event';
}

// extras are a trigger's settings beyond its source: batches, order keys.
function extras(t) {
  const spec = t.queue || t.storage || {};
  const out = [];
  if (spec.batching) out.push('batches of ' + num(spec.batching.size) + (spec.batching.reportItemFailures ? ', item failures' : ''));
  if (spec.orderKey) out.push('ordered by ' + spec.orderKey);
  return out.join(' · ');
}

function state(s) {
  if (!s) return h('span', {class: 'status'}, 'pending');
  const cls = {running: 'ok', retrying: 'warn', failed: 'bad'}[s.state] || '';
  return h('span', {class: 'status ' + cls, title: s.updated ? 'since ' + new Date(s.updated).toLocaleString() : null}, s.state);
}

export function triggersTab(body, name, life) {
  const out = h('div', null, h('p', {class: 'muted'}, 'Loading triggers…'));
  const status = h('div', {id: 'triggers-status'});
  const refresh = h('button', {type: 'button', class: 'ghost', onclick: () => load()}, 'Refresh');
  body.append(h('div', {class: 'toolbar'}, h('h2', null, 'Triggers'), h('span', {class: 'spacer'}), refresh), status, out, subscribeForm());

  const load = async () => {
    let answer;
    try {
      answer = await get('/v1/triggers?function=' + encodeURIComponent(name), {signal: life.signal});
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(out, e.status === 403 ? notice('info', 'Triggers are managed with the node\'s token or an admin key.')
        : notice('error', 'Could not load the triggers: ' + e.message));
      return;
    }
    const list = (answer && answer.triggers) || [];
    if (!list.length) {
      replace(out, h('div', {class: 'card empty-state'}, h('h3', null, 'No triggers'),
        h('p', {class: 'muted'}, 'Subscribe to CloudEvents below, or add schedules, buckets, queues and routes with sluice trigger add.')));
      return;
    }
    replace(out, h('table', {class: 'grid-table triggers'},
      h('thead', null, h('tr', null, h('th', null, 'Trigger'), h('th', null, 'Kind'), h('th', null, 'Source'), h('th', null, 'State'), h('th', null, 'Events'), h('th'))),
      h('tbody', null, list.map(({trigger: t, status: s}) => h('tr', {'data-trigger': t.id},
        h('td', {class: 'mono small'}, t.id),
        h('td', null, h('span', {class: 'pill'}, t.kind)),
        h('td', null, h('code', null, source(t)), extras(t) ? h('div', {class: 'muted small'}, extras(t)) : null),
        h('td', null, state(s), s && s.detail ? h('div', {class: 'muted small'}, s.detail) : null,
          s && s.lastError ? h('div', {class: 'bad-text small'}, s.lastError) : null),
        h('td', null, s && s.events ? num(s.events) : '—', s && s.lastEvent ? h('div', {class: 'muted small'}, 'last ' + when(s.lastEvent)) : null),
        h('td', {class: 'actions'}, h('button', {type: 'button', class: 'ghost small danger', onclick: () => remove(t.id)}, 'Delete')))))));
  };

  const remove = async id => {
    if (!confirm('Delete trigger ' + id + '?')) return;
    try {
      await request('/v1/triggers/' + encodeURIComponent(id), {method: 'DELETE', signal: life.signal});
      replace(status, notice('ok', 'Deleted trigger ' + id + '.'));
    } catch (e) {
      if (e.name !== 'AbortError') replace(status, notice('error', 'Could not delete ' + id + ': ' + e.message));
    }
    load();
  };

  function subscribeForm() {
    const rows = attrs.map(a => {
      const way = h('select', {id: 'ce-' + a + '-way', 'aria-label': a + ' match'}, ways.map(([suffix, label]) => h('option', {value: suffix}, label)));
      const value = h('input', {id: 'ce-' + a, placeholder: {type: 'com.example.order.created', source: '/shop/eu', subject: 'orders/'}[a], spellcheck: 'false', 'aria-label': a});
      return {a, way, value, el: h('div', {class: 'ce-filter'}, h('label', {class: 'inline', for: 'ce-' + a}, a), way, value)};
    });
    const submit = h('button', {type: 'submit', id: 'subscribe', class: 'primary'}, 'Subscribe');
    return h('form', {class: 'card subscribe', onsubmit: async e => {
      e.preventDefault();
      const ce = {};
      for (const r of rows) if (r.value.value) ce[r.a + r.way.value] = r.value.value;
      submit.disabled = true;
      try {
        const res = await request('/v1/triggers', {method: 'POST', body: {function: name, kind: 'cloudevents', cloudevents: ce}, signal: life.signal});
        const t = await res.json();
        replace(status, notice('ok', 'Subscribed ' + name + ' to ' + filters(ce) + ' (trigger ' + (t.id || '') + ').'));
        for (const r of rows) r.value.value = '';
        load();
      } catch (err) {
        if (err.name !== 'AbortError') replace(status, notice('error', 'Could not subscribe: ' + err.message));
      } finally {
        submit.disabled = false;
      }
    }},
    h('h3', null, 'Subscribe to CloudEvents'),
    h('p', {class: 'muted small'}, 'Events sent to POST /v1/events (or the bus subject sluice.events) that pass every filter given invoke this function. No filter: every event.'),
    rows.map(r => r.el), h('div', {class: 'toolbar'}, h('span', {class: 'spacer'}), submit));
  }

  load();
}
