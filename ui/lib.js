// The dashboard's plumbing: DOM building, the JSON API with the signed-in token, server-sent
// event streams read over fetch (EventSource cannot send an Authorization header), formatting.
// Text always goes in through textContent, never as HTML: task commands, logs and labels are
// whatever a submitter wrote.

const TOKEN_KEY = 'populi.token';

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, value);
  },
};

// h('a', {href: '#/x', class: 'c'}, 'text', child…): an element. `on*` attributes are listeners.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.hint = e.hint || '';
    this.requestId = e.request_id || '';
  }
}

function authHeaders(extra) {
  const headers = Object.assign({}, extra);
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

// Listeners for a 401 anywhere: the app signs out.
export const onUnauthenticated = new Set();

export async function api(path, { method = 'GET', body } = {}) {
  const headers = authHeaders({ Accept: 'application/json' });
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!r.ok) {
    const err = new ApiError(r.status, data);
    if (r.status === 401) onUnauthenticated.forEach((fn) => fn(err));
    throw err;
  }
  return data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A server-sent event stream over fetch that resumes where it stopped. `url(lastId)` builds the
// request for a (re)connection after the last id handled (null at first); `onFrame({id, event,
// data})` gets each frame; `onState('live' | 'reconnecting' | 'ended')` the connection's state.
// The stream ends when close() is called or the server ends it after an `end` frame.
export class Stream {
  constructor(url, { onFrame, onState = () => {}, lastId = null, resumeHeader = false }) {
    Object.assign(this, { url, onFrame, onState, lastId, resumeHeader });
    this.closed = false;
    this.ended = false;
    this.controller = null;
    this.run();
  }

  close() {
    this.closed = true;
    if (this.controller) this.controller.abort();
  }

  async run() {
    let backoff = 500;
    while (!this.closed && !this.ended) {
      this.controller = new AbortController();
      try {
        const extra = { Accept: 'text/event-stream' };
        if (this.resumeHeader && this.lastId !== null) extra['Last-Event-ID'] = String(this.lastId);
        const r = await fetch(this.url(this.lastId), {
          headers: authHeaders(extra), signal: this.controller.signal, cache: 'no-store',
        });
        if (r.status === 401) {
          onUnauthenticated.forEach((fn) => fn(new ApiError(401, null)));
          return;
        }
        if (!r.ok) throw new ApiError(r.status, null);
        this.onState('live');
        backoff = 500;
        await this.read(r.body);
      } catch (e) {
        if (this.closed) return;
      }
      if (this.closed || this.ended) break;
      this.onState('reconnecting');
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 8000);
    }
    if (!this.closed) this.onState('ended');
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let at;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        const text = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const frame = { id: null, event: 'message', data: '' };
        for (const line of text.split('\n')) {
          if (line.startsWith(':')) continue;  // keepalive or progress comment
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') frame.id = value;
          else if (field === 'event') frame.event = value;
          else if (field === 'data') frame.data += (frame.data ? '\n' : '') + value;
        }
        if (!frame.data) continue;
        if (frame.event === 'end') this.ended = true;
        if (frame.id !== null) this.lastId = Number(frame.id);
        this.onFrame({ id: frame.id, event: frame.event, data: JSON.parse(frame.data) });
      }
    }
  }
}

// Coalesces bursts (a placement is several events in one commit) into one call.
export function debounce(fn, ms = 120) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

export function fmtTime(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  return h('time', { datetime: d.toISOString() }, d.toLocaleString());
}

export function fmtAgo(ms, now) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

// States are words first; the symbol and colour only repeat them.
const MARKS = {
  alive: '●', suspect: '◐', down: '○', left: '×', off: '◌',
  pending: '…', placed: '→', running: '▶', succeeded: '✓', failed: '✗', cancelled: '⊘',
  lost: '?', live: '●', granted: '●', expired: '○', released: '✓', revoked: '⊘', completed: '✓',
  fresh: '●', stale: '◐',
};
export function stateBadge(state) {
  return h('span', { class: `state state-${state}` },
    h('span', { 'aria-hidden': 'true' }, `${MARKS[state] || '•'} `), state);
}

export function errorBox(err) {
  const lines = [err.message];
  if (err.hint) lines.push(`Hint: ${err.hint}`);
  if (err.requestId) lines.push(`Request id: ${err.requestId}`);
  return h('div', { class: 'error', role: 'alert' }, lines.map((l) => h('p', {}, l)));
}

// A table in a horizontally scrolling region, so narrow screens keep every column.
export function table(caption, headers, rows) {
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows)));
}

export function traceIdOf(traceparent) {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent || '');
  return m ? m[1] : '';
}
