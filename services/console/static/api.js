// The management API client: every call carries the bearer token kept in sessionStorage.

const tokenKey = 'sluice.token';

export function token() {
  return sessionStorage.getItem(tokenKey) || '';
}

export function setToken(t) {
  sessionStorage.setItem(tokenKey, t);
}

export function clearToken() {
  sessionStorage.removeItem(tokenKey);
}

// APIError is a non-2xx answer: status, the API's error code and message.
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  // missing reports an endpoint this node does not serve (the router's 404, not a missing
  // function or file).
  get missing() {
    return this.status === 404 && this.code === 'not_found';
  }
}

// request calls the API and returns the fetch Response of a 2xx answer, or throws APIError. A
// 401 forgets the token and tells the page (event "signed-out" on window).
export async function request(path, {method = 'GET', body, headers = {}, signal} = {}) {
  const h = {Authorization: 'Bearer ' + token(), ...headers};
  if (body !== undefined && typeof body !== 'string') {
    body = JSON.stringify(body);
    h['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, {method, headers: h, body, signal, cache: 'no-store'});
  if (res.ok) return res;
  let code = 'http_' + res.status;
  let message = res.status + ' ' + res.statusText;
  try {
    const e = (await res.json()).error;
    if (e) ({code, message} = e);
  } catch {
    // not the API's JSON error shape; keep the status line
  }
  if (res.status === 401) {
    clearToken();
    window.dispatchEvent(new CustomEvent('signed-out', {detail: message}));
  }
  throw new APIError(res.status, code, message);
}

// get calls the API and decodes its JSON answer.
export async function get(path, opts) {
  const res = await request(path, opts);
  return res.status === 204 ? null : res.json();
}

// fn is the path of a function's endpoint.
export function fn(name, rest = '') {
  return '/v1/functions/' + encodeURIComponent(name) + rest;
}

// sse reads a Server-Sent Events stream with fetch (EventSource cannot send the token) and calls
// onEvent(data, id) for each event until the stream ends or signal aborts.
export async function sse(path, onEvent, signal) {
  const res = await request(path, {headers: {Accept: 'text/event-stream'}, signal});
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const field = name => block.split('\n').filter(l => l.startsWith(name + ':')).map(l => l.slice(name.length + 1).replace(/^ /, ''));
      const data = field('data').join('\n');
      if (data) onEvent(data, field('id')[0] || '');
    }
  }
}
