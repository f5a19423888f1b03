// The console's entry point: takes the token from the URL fragment, routes between pages on
// hash changes, and asks for the token when there is none.

import {h, replace, notice} from './dom.js';
import {token, setToken, clearToken, get} from './api.js';
import {Life} from './life.js';
import {functionsPage} from './functions.js';
import {functionPage} from './function.js';
import {billingPage} from './billing.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let life = null;

// takeToken moves a token given as #token=... into sessionStorage and out of the address bar.
function takeToken() {
  const m = location.hash.match(/^#token=([^&]+)/);
  if (!m) return;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + location.search + '#/');
}

function route() {
  const path = location.hash.replace(/^#/, '') || '/';
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'functions' && parts[1]) return {page: functionPage, params: {name: parts[1], tab: parts[2] || 'monitoring', version: Number(parts[3]) || 0}, nav: 'functions'};
  if (parts[0] === 'billing') return {page: billingPage, params: {}, nav: 'billing'};
  return {page: functionsPage, params: {}, nav: 'functions'};
}

function show() {
  if (life) life.stop();
  life = new Life();
  if (!token()) {
    signIn();
    return;
  }
  document.body.classList.remove('signed-out');
  const r = route();
  for (const a of nav.querySelectorAll('a[data-nav]')) a.classList.toggle('active', a.dataset.nav === r.nav);
  main.replaceChildren();
  r.page(main, r.params, life);
}

function signIn(message) {
  document.body.classList.add('signed-out');
  const input = h('input', {type: 'password', id: 'token', name: 'token', autocomplete: 'off', placeholder: 'SLUICE_TOKEN', required: true, spellcheck: 'false'});
  const status = h('div');
  const form = h('form', {class: 'signin card', onsubmit: async ev => {
    ev.preventDefault();
    setToken(input.value.trim());
    try {
      await get('/v1/functions');
      show();
    } catch (e) {
      clearToken();
      // A refused token re-renders this form through the signed-out event.
      if (e.status !== 401) replace(status, notice('error', e.message));
    }
  }},
  h('h1', null, 'Sign in'),
  h('p', {class: 'muted'}, 'Paste the API token that ', h('code', null, 'sluice up'), ' printed (', h('code', null, 'SLUICE_TOKEN'),
    '), or open the console line it printed. The token stays in this tab only.'),
  h('label', {for: 'token'}, 'API token'), input,
  message ? notice('error', message) : null, status,
  h('button', {type: 'submit', class: 'primary'}, 'Sign in'));
  replace(main, form);
  input.focus();
}

async function health() {
  const dot = document.getElementById('health');
  try {
    const res = await fetch('/healthz', {cache: 'no-store'});
    const body = await res.json();
    dot.className = 'health ' + (res.ok ? 'ok' : 'bad');
    dot.title = 'node: ' + body.status + ' · roles: ' + (body.roles || []).join(', ');
    dot.textContent = res.ok ? 'node ok' : body.status;
  } catch {
    dot.className = 'health bad';
    dot.textContent = 'node unreachable';
  }
}

takeToken();
document.getElementById('signout').addEventListener('click', () => {
  clearToken();
  show();
});
window.addEventListener('hashchange', () => {
  takeToken();
  show();
});
window.addEventListener('signed-out', ev => {
  if (life) life.stop();
  signIn('The node refused the token: ' + ev.detail);
});
health();
setInterval(health, 10000);
show();
