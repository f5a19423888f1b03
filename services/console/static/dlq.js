// The dead-letters tab: events that exhausted their retries, with their last error and attempts;
// each one's whole record (attributes and data) on request; buttons that send them back into the
// function's queue, one or all, or purge them.

import {h, replace, notice, when, num} from './dom.js';
import {get, request, fn} from './api.js';

// items finds the list in an answer: the answer itself, or its first array field.
function items(answer) {
  if (Array.isArray(answer)) return answer;
  for (const v of Object.values(answer || {})) if (Array.isArray(v)) return v;
  return [];
}

// pick is the first of the fields an entry has.
function pick(o, ...keys) {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null && o[k] !== '') return o[k];
  return undefined;
}

function errorText(e) {
  if (e === undefined) return '';
  if (typeof e === 'string') return e;
  return [e.errorType || e.type || e.code, e.errorMessage || e.message].filter(Boolean).join(': ') || JSON.stringify(e);
}

export function dlqTab(body, name, life) {
  const out = h('div', null, h('p', {class: 'muted'}, 'Loading dead letters…'));
  const status = h('div', {id: 'dlq-status'});
  const redrive = h('button', {type: 'button', id: 'redrive', class: 'primary', disabled: true}, 'Redrive all');
  const purge = h('button', {type: 'button', id: 'purge', class: 'danger', disabled: true}, 'Purge all');
  const refresh = h('button', {type: 'button', class: 'ghost', onclick: () => load()}, 'Refresh');
  body.append(h('div', {class: 'toolbar'}, h('h2', null, 'Dead letters'), h('span', {class: 'spacer'}), refresh, purge, redrive), status, out);

  const load = async () => {
    let answer;
    try {
      answer = await get(fn(name, '/dlq'), {signal: life.signal});
    } catch (e) {
      if (e.name === 'AbortError') return;
      redrive.disabled = purge.disabled = true;
      replace(out, e.missing ? notice('info', 'This node serves no dead-letter API yet.') : notice('error', 'Could not load the dead letters: ' + e.message));
      return;
    }
    const list = items(answer);
    redrive.disabled = purge.disabled = !list.length;
    if (!list.length) {
      replace(out, h('div', {class: 'card empty-state'}, h('h3', null, 'No dead-lettered events'),
        h('p', {class: 'muted'}, 'Asynchronous events that fail every retry land here with their last error, to be redriven once the cause is fixed.')));
      return;
    }
    replace(out, h('table', {class: 'grid-table dlq'},
      h('thead', null, h('tr', null, h('th', null, 'Event'), h('th', null, 'Failed'), h('th', null, 'Last error'), h('th', {class: 'num'}, 'Attempts'), h('th'))),
      h('tbody', null, list.map(d => {
        const id = pick(d, 'id', 'eventId', 'invocationId', 'ceId') ?? '—';
        const at = pick(d, 'failedAt', 'deadAt', 'time', 'at', 'timestamp');
        const err = errorText(pick(d, 'error', 'lastError', 'reason'));
        const attempts = pick(d, 'attempts', 'deliveries', 'attempt');
        const detail = h('pre', {class: 'code', hidden: true}, JSON.stringify(d, null, 2));
        return [
          h('tr', {'data-event': String(id)},
            h('td', {class: 'mono small'}, String(id)),
            h('td', null, at ? when(at) : '—'),
            h('td', null, d.outcome ? h('span', {class: 'status bad'}, d.outcome) : null, ' ', h('span', {class: 'bad-text'}, err || '—')),
            h('td', {class: 'num'}, attempts === undefined ? '—' : num(Number(attempts)),
              d.redriven ? h('div', {class: 'muted small'}, 'redriven ' + num(d.redriven) + '×') : null),
            h('td', {class: 'actions'},
              d.seq !== undefined ? h('button', {type: 'button', class: 'small', onclick: () => send('?seq=' + encodeURIComponent(d.seq), 'event ' + id)}, 'Redrive') : null,
              h('button', {type: 'button', class: 'ghost small', onclick: async () => {
                detail.hidden = !detail.hidden;
                if (detail.hidden || d.seq === undefined || detail.dataset.full) return;
                try {
                  // The record with its attributes and data, as sluice dlq show prints it.
                  detail.textContent = JSON.stringify(await get(fn(name, '/dlq/' + encodeURIComponent(d.seq)), {signal: life.signal}), null, 2);
                  detail.dataset.full = '1';
                } catch (e) {
                  if (e.name !== 'AbortError') detail.textContent = 'Could not read the whole record: ' + e.message;
                }
              }}, 'Details'))),
          h('tr', {class: 'detail-row'}, h('td', {colspan: 5}, detail)),
        ];
      }))));
  };

  // send redrives the events the query names (all without one, a page at a time, following the
  // answer's next up to the through of the first page), once confirmed.
  const send = async (query, what) => {
    if (!confirm('Send ' + what + ' of ' + name + ' back to the function?')) return;
    redrive.disabled = true;
    try {
      let n = 0;
      for (let q = query; q !== null;) {
        const res = await request(fn(name, '/dlq/redrive' + q), {method: 'POST', signal: life.signal});
        const text = await res.text();
        let answer;
        try {
          answer = JSON.parse(text);
        } catch {
          n = null; // not JSON: say it without a count
          break;
        }
        n += items(answer).length;
        q = !query && answer.next ? '?after=' + encodeURIComponent(answer.next) + '&through=' + encodeURIComponent(answer.through) : null;
      }
      replace(status, notice('ok', n === null ? 'Redriven.' : 'Redriven ' + n + (n === 1 ? ' event' : ' events') + ' into the function\'s queue.'));
    } catch (e) {
      if (e.name !== 'AbortError') replace(status, notice('error', 'Redrive failed: ' + e.message));
    }
    await load();
  };
  redrive.addEventListener('click', () => send('', 'every dead-lettered event'));
  purge.addEventListener('click', async () => {
    if (!confirm('Delete every dead-lettered event of ' + name + '? They cannot be redriven afterwards.')) return;
    purge.disabled = true;
    try {
      const res = await get(fn(name, '/dlq'), {method: 'DELETE', signal: life.signal});
      const n = res && typeof res.purged === 'number' ? res.purged : null;
      replace(status, notice('ok', n === null ? 'Purged.' : 'Purged ' + n + (n === 1 ? ' event.' : ' events.')));
    } catch (e) {
      if (e.name !== 'AbortError') replace(status, notice('error', 'Purge failed: ' + e.message));
    }
    await load();
  });
  load();
}
