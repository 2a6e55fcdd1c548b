// The live event feed (filtered by kind and node) and one trace as a waterfall.
import { api, h, fmtTime, table } from './lib.js';

const MAX_ROWS = 300;

function matches(e, kinds, node) {
  if (kinds.length && !kinds.some((k) => (k.endsWith('.') ? e.kind.startsWith(k) : e.kind === k))) return false;
  if (node) {
    const d = e.data || {};
    if (e.subject !== node && d.node_id !== node && d.holder_node_id !== node) return false;
  }
  return true;
}

function eventRow(e) {
  const link = e.kind.startsWith('task.') ? h('a', { href: `#/tasks/${e.subject}` }, e.subject) : e.subject;
  return h('tr', { 'data-kind': e.kind },
    h('td', {}, String(e.id)),
    h('td', {}, fmtTime(e.ts_ms)),
    h('td', {}, h('code', {}, e.kind)),
    h('td', {}, link),
    h('td', {}, h('code', { class: 'data' }, JSON.stringify(e.data || {}))));
}

export async function eventsView(section, ctx) {
  const kindInput = h('input', {
    id: 'filter-kind', name: 'kind', value: ctx.query.kind || '', placeholder: 'task., node.down',
    'aria-describedby': 'kind-help',
  });
  const nodeInput = h('input', { id: 'filter-event-node', name: 'node', value: ctx.query.node || '' });
  const body = h('tbody', {});
  const count = h('caption', {}, '');
  section.append(h('h2', { id: 'view-title' }, 'Events'),
    h('form', { class: 'filters', role: 'search', onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      if (kindInput.value.trim()) q.set('kind', kindInput.value.trim());
      if (nodeInput.value.trim()) q.set('node', nodeInput.value.trim());
      location.hash = `#/events${q.toString() ? `?${q}` : ''}`;
    } },
    h('label', { for: 'filter-kind' }, 'Kinds '), kindInput,
    h('label', { for: 'filter-event-node' }, ' Node '), nodeInput,
    h('button', { type: 'submit' }, 'Filter'),
    h('p', { id: 'kind-help', class: 'help' },
      'Comma-separated kinds; one ending in a dot is a prefix (task. is every task event). Newest first.')),
    h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Events' },
      h('table', {}, count,
        h('thead', {}, h('tr', {}, ['Id', 'Time', 'Kind', 'Subject', 'Data'].map((t) => h('th', { scope: 'col' }, t)))),
        body)));
  const kinds = (ctx.query.kind || '').split(',').map((k) => k.trim()).filter(Boolean);
  const node = ctx.query.node || '';
  let shown = 0;
  const add = (e) => {
    if (!e.id || !matches(e, kinds, node)) return;
    body.prepend(eventRow(e));
    shown += 1;
    while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
    count.textContent = `${Math.min(shown, MAX_ROWS)} recent events, live`;
  };
  ctx.recentEvents().forEach(add);
  count.textContent = `${body.rows.length} recent events, live`;
  ctx.onEvent([''], (e) => {
    // Opened before the sign-in's pages of recent events were in (a reload on this view): they
    // are in once the stream is live.
    if (e.kind === 'stream.live' && shown === 0) ctx.recentEvents().forEach(add);
    else add(e);
  });
}

// Depth of each span under its parent within the trace (a parent not held counts as a root).
function depths(spans) {
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const memo = new Map();
  const depth = (s, guard = 0) => {
    if (memo.has(s.span_id)) return memo.get(s.span_id);
    const parent = s.parent_span_id && byId.get(s.parent_span_id);
    const d = parent && guard < 64 ? depth(parent, guard + 1) + 1 : 0;
    memo.set(s.span_id, d);
    return d;
  };
  spans.forEach((s) => depth(s));
  return memo;
}

export async function traceView(section, ctx) {
  const [traceId] = ctx.params;
  const body = h('div', {});
  const reload = h('button', { type: 'button', onclick: () => draw().catch((err) => body.replaceChildren(String(err.message))) }, 'Read again');
  section.append(h('h2', { id: 'view-title' }, 'Trace ', h('code', {}, traceId)),
    h('p', { class: 'help' }, 'Agents send their spans after a task ends; read again to see late ones. ', reload),
    body);
  async function draw() {
    const reply = await api(`/v1/populi/traces/${traceId}`);
    if (!ctx.active) return;
    const spans = reply.spans.slice().sort((a, b) => a.start_unix_ns - b.start_unix_ns);
    const t0 = Math.min(...spans.map((s) => s.start_unix_ns));
    const t1 = Math.max(...spans.map((s) => s.end_unix_ns));
    const total = Math.max(1, t1 - t0);
    const depth = depths(spans);
    const ms = (ns) => (ns / 1e6).toFixed(ns < 1e7 ? 2 : 1);
    const rows = spans.map((s) => {
      const bar = h('div', { class: s.error ? 'bar bar-error' : 'bar', 'aria-hidden': 'true' });
      bar.style.marginLeft = `${((s.start_unix_ns - t0) / total) * 100}%`;
      bar.style.width = `${Math.max(0.3, ((s.end_unix_ns - s.start_unix_ns) / total) * 100)}%`;
      const name = h('td', { class: 'span-name' }, s.name, s.error ? ` (error: ${s.status_message || 'failed'})` : '');
      name.style.paddingLeft = `${0.3 + depth.get(s.span_id) * 1}rem`;
      return h('tr', { 'data-span': s.name },
        name,
        h('td', {}, s.node_id ? `${s.service} on ${s.node_id}` : s.service),
        h('td', { class: 'num' }, `+${ms(s.start_unix_ns - t0)} ms`),
        h('td', { class: 'num' }, `${ms(s.end_unix_ns - s.start_unix_ns)} ms`),
        h('td', { class: 'waterfall' }, bar));
    });
    body.replaceChildren(
      h('p', { class: 'summary' }, `${spans.length} spans over ${ms(total)} ms, by start time; indentation shows the parent span.`),
      table('Spans', ['Span', 'Where', 'Start', 'Duration', 'Timeline'], rows));
  }
  await draw();
}
