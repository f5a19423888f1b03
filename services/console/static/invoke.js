// The invoke tab: a payload box that invokes the function, synchronously or queued (async, then
// followed by its id), and shows the answer and the version that ran, beside a live tail of the
// function's logs.

import {h, replace, notice, clock, ms} from './dom.js';
import {request, get, sse, fn} from './api.js';

const maxLogLines = 1000;

export function invokeTab(body, name, life) {
  const payload = h('textarea', {id: 'payload', class: 'payload mono', spellcheck: 'false', rows: 8, 'aria-label': 'payload (JSON)'});
  payload.value = sessionStorage.getItem('sluice.payload.' + name) || '{\n  "name": "Ada"\n}';
  const qualifier = h('input', {id: 'qualifier', placeholder: 'latest', size: 10, 'aria-label': 'version or alias'});
  const button = h('button', {type: 'submit', id: 'invoke', class: 'primary'}, 'Invoke');
  const asyncBox = h('input', {type: 'checkbox', id: 'async'});
  const result = h('div', {id: 'result', class: 'result'}, h('p', {class: 'muted'}, 'The answer shows here.'));
  const history = h('ol', {class: 'history'});
  const recent = h('h3', {class: 'muted small', hidden: true}, 'Recent');
  const logs = logTail(name, life);

  const form = h('form', {class: 'card invoke', onsubmit: async ev => {
    ev.preventDefault();
    let data = payload.value.trim() || 'null';
    try {
      data = JSON.stringify(JSON.parse(data));
    } catch (e) {
      replace(result, notice('error', 'The payload is not JSON: ' + e.message));
      return;
    }
    sessionStorage.setItem('sluice.payload.' + name, payload.value);
    button.disabled = true;
    replace(result, h('p', {class: 'muted'}, 'Invoking…'));
    const q = qualifier.value.trim();
    const started = performance.now();
    const headers = {'Content-Type': 'application/json'};
    if (asyncBox.checked) headers['X-Sluice-Invocation-Type'] = 'Event';
    try {
      const res = await request(fn(name, '/invocations' + (q ? '?qualifier=' + encodeURIComponent(q) : '')), {method: 'POST', body: data, headers, signal: life.signal});
      const r = asyncBox.checked ? await follow(res, result, life) : {
        outcome: res.headers.get('X-Sluice-Outcome') || 'ok',
        version: res.headers.get('X-Sluice-Version'),
        id: res.headers.get('X-Sluice-Invocation-Id'),
        text: await res.text(),
      };
      if (!r) return; // the page was left
      const took = performance.now() - started;
      Object.assign(r, {took, at: Date.now()});
      showResult(result, r, logs);
      recent.hidden = false;
      history.prepend(h('li', null, h('span', {class: 'status ' + (r.outcome === 'ok' ? 'ok' : 'bad')}, r.outcome), ' v' + r.version + ' · ' + ms(took) + ' · ' + clock(r.at)));
      while (history.children.length > 8) history.lastChild.remove();
    } catch (e) {
      if (e.name !== 'AbortError') replace(result, notice('error', e.message));
    } finally {
      button.disabled = false;
    }
  }},
  h('div', {class: 'toolbar'}, h('h2', null, 'Invoke'), h('span', {class: 'spacer'}),
    h('label', {class: 'inline', for: 'qualifier'}, 'version or alias'), qualifier,
    h('label', {class: 'inline check', for: 'async', title: 'queue the event (retried on failure, dead-lettered at the end) and follow it by its id'}, asyncBox, 'async'), button),
  h('label', {for: 'payload', class: 'muted small'}, 'Payload (JSON, the handler\'s event)'), payload, result,
  recent, history);
  payload.addEventListener('keydown', ev => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
  });
  body.append(h('div', {class: 'split'}, form, logs.el));
}

// follow waits for a queued invocation to finish, showing its status meanwhile, and returns its
// answer as a synchronous call's (null when the page is left).
async function follow(res, el, life) {
  const {invocationId: id} = await res.json();
  const version = res.headers.get('X-Sluice-Version');
  for (;;) {
    let r = null;
    try {
      r = await get('/v1/invocations/' + encodeURIComponent(id), {signal: life.signal});
    } catch (e) {
      if (e.name === 'AbortError') return null;
      if (e.status !== 404) throw e; // 404: not recorded yet
    }
    if (r && (r.status === 'succeeded' || r.status === 'failed')) {
      return {
        outcome: r.outcome || (r.status === 'succeeded' ? 'ok' : 'error'), version: String(r.version || version), id,
        attempts: r.attempts, text: JSON.stringify(r.status === 'succeeded' ? r.result ?? null : r.error ?? null),
      };
    }
    replace(el, h('p', {class: 'muted'}, (r ? r.status : 'queued') + (r && r.attempts > 1 ? ' · attempt ' + r.attempts : '') + ' · ', h('span', {class: 'mono small'}, id)));
    await new Promise(resolve => setTimeout(resolve, 400));
    if (life.done) return null;
  }
}

function showResult(el, r, logs) {
  let pretty = r.text;
  try {
    pretty = JSON.stringify(JSON.parse(r.text), null, 2);
  } catch {
    // not JSON: show it as it came
  }
  const ok = r.outcome === 'ok';
  replace(el,
    h('div', {class: 'result-head'},
      h('span', {class: 'status ' + (ok ? 'ok' : 'bad'), id: 'outcome'}, r.outcome),
      h('span', null, 'version ', h('b', {id: 'ran-version'}, r.version || '?')),
      h('span', {class: 'muted'}, ms(r.took)),
      r.attempts > 1 ? h('span', {class: 'muted'}, r.attempts + ' attempts') : null,
      r.id ? h('a', {href: '#', class: 'mono small', title: 'show only its log lines', onclick: ev => {
        ev.preventDefault();
        logs.filter(r.id);
      }}, r.id) : null),
    h('pre', {class: 'code answer' + (ok ? '' : ' failed')}, pretty));
}

// logTail follows the function's logs (SSE) from five minutes ago, reconnecting after a failure
// without repeating lines.
function logTail(name, life) {
  const list = h('div', {class: 'log-lines', id: 'logs', role: 'log', 'aria-live': 'off'});
  const state = h('span', {class: 'muted small', id: 'log-state'}, 'connecting…');
  const filterBox = h('input', {type: 'search', placeholder: 'filter', size: 14, 'aria-label': 'filter log lines'});
  let paused = false;
  let lastTime = 0;
  // Ids of the latest lines shown (an SSE id names a line's record and place in it), as a
  // reconnect, which starts a second before the last line, may bring them again.
  const shown = new Map();
  const pause = h('button', {type: 'button', onclick: () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) list.scrollTop = list.scrollHeight;
  }}, 'Pause');
  const clear = h('button', {type: 'button', onclick: () => list.replaceChildren()}, 'Clear');
  const el = h('section', {class: 'card logs'},
    h('div', {class: 'toolbar'}, h('h2', null, 'Live logs'), state, h('span', {class: 'spacer'}), filterBox, pause, clear), list);

  const matches = row => {
    const f = filterBox.value.trim().toLowerCase();
    return !f || row.dataset.text.includes(f);
  };
  const applyFilter = () => {
    for (const row of list.children) row.hidden = !matches(row);
  };
  filterBox.addEventListener('input', applyFilter);

  const add = (data, id) => {
    if (id && shown.has(id)) return;
    let l;
    try {
      l = JSON.parse(data);
    } catch {
      return;
    }
    lastTime = Math.max(lastTime, Date.parse(l.time) || 0);
    if (id) {
      shown.set(id, true);
      // The oldest go first (a Map keeps its order): a constant cost per line, however fast
      // a function prints.
      for (const k of shown.keys()) {
        if (shown.size <= 4 * maxLogLines) break;
        shown.delete(k);
      }
    }
    const platform = l.stream === 'platform';
    const row = h('div', {class: 'log ' + (l.stream || ''), 'data-invocation': l.invocationId || ''},
      h('span', {class: 'log-time'}, clock(l.time)),
      h('span', {class: 'log-ver'}, l.version ? 'v' + l.version : ''),
      h('span', {class: 'log-inv', title: l.invocationId || ''}, (l.invocationId || '').slice(0, 8)),
      h('span', {class: 'log-msg' + (platform ? ' muted' : '')}, l.message));
    row.dataset.text = [l.message, l.invocationId, l.stream, 'v' + l.version].join(' ').toLowerCase();
    row.hidden = !matches(row);
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    list.append(row);
    while (list.children.length > maxLogLines) list.firstChild.remove();
    if (!paused && atEnd) list.scrollTop = list.scrollHeight;
  };

  (async () => {
    while (!life.done) {
      // After a reconnect, start a little before the last line shown; its id skips repeats.
      const since = lastTime ? new Date(lastTime - 1000).toISOString() : '5m';
      try {
        state.textContent = 'following';
        state.className = 'small live';
        await sse(fn(name, '/logs?follow=1&since=' + encodeURIComponent(since)), add, life.signal);
        state.textContent = 'stream ended, reconnecting…';
      } catch (e) {
        if (life.done || e.name === 'AbortError') return;
        state.textContent = 'disconnected (' + e.message + '), retrying…';
      }
      state.className = 'muted small';
      await new Promise(resolve => {
        const t = setTimeout(resolve, 3000);
        life.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        }, {once: true});
      });
    }
  })();

  return {
    el,
    filter(text) {
      filterBox.value = text;
      applyFilter();
    },
  };
}
