// The task list (live, filtered by state and node) and one task: attempts, placement reasons,
// logs following live, cancel.
import {
  api, h, debounce, fmtTime, stateBadge, table, errorBox, Stream, traceIdOf,
} from './lib.js';

const STATES = ['pending', 'placed', 'running', 'succeeded', 'failed', 'cancelled'];
const ENDED = new Set(['succeeded', 'failed', 'cancelled']);

const lastAttempt = (t) => (t.attempts && t.attempts.length ? t.attempts[t.attempts.length - 1] : null);
const commandOf = (spec) => [spec.command, ...(spec.args || [])].join(' ');

export async function tasksView(section, ctx) {
  const { state = '', node = '' } = ctx.query;
  const stateSelect = h('select', { id: 'filter-state', name: 'state' },
    h('option', { value: '' }, 'any state'),
    STATES.map((s) => h('option', { value: s, selected: s === state }, s)));
  const nodeSelect = h('select', { id: 'filter-node', name: 'node' },
    h('option', { value: '' }, 'any node'));
  const applyFilter = () => {
    const q = new URLSearchParams();
    if (stateSelect.value) q.set('state', stateSelect.value);
    if (nodeSelect.value) q.set('node', nodeSelect.value);
    const text = q.toString();
    location.hash = `#/tasks${text ? `?${text}` : ''}`;
  };
  stateSelect.addEventListener('change', applyFilter);
  nodeSelect.addEventListener('change', applyFilter);
  const list = h('div', { 'aria-live': 'polite', 'aria-busy': 'true' });
  section.append(h('h2', { id: 'view-title' }, 'Tasks'),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); applyFilter(); } },
      h('label', { for: 'filter-state' }, 'State '), stateSelect,
      h('label', { for: 'filter-node' }, ' Node '), nodeSelect),
    list);

  const draw = async () => {
    const [reply, nodes] = await Promise.all([
      api(`/v1/populi/tasks?limit=200${state ? `&state=${encodeURIComponent(state)}` : ''}`),
      api('/v1/populi/nodes'),
    ]);
    if (!ctx.active) return;
    if (nodeSelect.options.length === 1) {
      nodes.nodes.map((n) => n.id).sort().forEach((id) => nodeSelect.append(
        h('option', { value: id, selected: id === node }, id)));
    }
    const tasks = reply.tasks.filter((t) => !node || (t.attempts || []).some((a) => a.node_id === node));
    const rows = tasks.map((t) => {
      const a = lastAttempt(t);
      return h('tr', { 'data-task': t.id, 'data-state': t.state },
        h('td', {}, h('a', { href: `#/tasks/${t.id}` }, t.id)),
        h('td', {}, stateBadge(t.state)),
        h('td', {}, h('code', {}, commandOf(t.spec))),
        h('td', {}, a ? a.node_id : (t.pending_reason || '–')),
        h('td', {}, fmtTime(t.created_ms)),
        h('td', {}, ENDED.has(t.state) ? `${t.exit_code}` : '–'));
    });
    list.replaceChildren(rows.length
      ? table(`${rows.length} tasks${state ? `, ${state}` : ''}${node ? `, on ${node}` : ''}, newest first`,
        ['Task', 'State', 'Command', 'Node / why pending', 'Submitted', 'Exit code'], rows)
      : h('p', {}, 'No tasks match.'));
    list.setAttribute('aria-busy', 'false');
  };
  await draw();
  ctx.onEvent(['task.'], debounce(() => draw().catch(() => {})));
}

function attemptsTable(task, explain) {
  const reasons = new Map((explain.attempts || []).map((a) => [a.number, a]));
  const rows = (task.attempts || []).map((a) => h('tr', {},
    h('td', {}, String(a.number)),
    h('td', {}, a.node_id),
    h('td', {}, a.dispatch),
    h('td', {}, stateBadge(a.state)),
    h('td', {}, fmtTime(a.placed_ms)),
    h('td', {}, fmtTime(a.ended_ms)),
    h('td', {}, a.exit_code >= 0 ? String(a.exit_code) : '–'),
    h('td', {}, (reasons.get(a.number) || a).placement_summary || '–',
      a.error ? h('div', { class: 'error-text' }, `Error: ${a.error}`) : '')));
  return rows.length
    ? table('Attempts', ['#', 'Node', 'Dispatch', 'State', 'Placed', 'Ended', 'Exit', 'Placement reason'], rows)
    : h('p', {}, 'No attempt yet.');
}

export async function taskView(section, ctx) {
  const [id] = ctx.params;
  const details = h('div', {});
  const actions = h('div', { class: 'actions', 'aria-live': 'polite' });
  const logs = h('pre', { class: 'logs', tabindex: '0', 'aria-label': 'Task output', id: 'logs' });
  const logState = h('p', { class: 'summary', id: 'log-state' }, 'Reading output…');
  section.append(h('h2', { id: 'view-title' }, 'Task ', h('code', {}, id)), details, actions,
    h('h3', {}, 'Output'), logState, logs);

  const draw = async () => {
    const [task, explain] = await Promise.all([
      api(`/v1/populi/tasks/${encodeURIComponent(id)}`),
      api(`/v1/populi/tasks/${encodeURIComponent(id)}/explain`),
    ]);
    if (!ctx.active) return;
    const traceId = traceIdOf(task.spec.traceparent);
    details.replaceChildren(
      h('dl', { class: 'facts' },
        h('dt', {}, 'State'), h('dd', { id: 'task-state' }, stateBadge(task.state)),
        h('dt', {}, 'Command'), h('dd', {}, h('code', {}, commandOf(task.spec))),
        h('dt', {}, 'Submitted'), h('dd', {}, fmtTime(task.created_ms)),
        h('dt', {}, 'Ended'), h('dd', {}, fmtTime(task.ended_ms)),
        h('dt', {}, 'Exit code'), h('dd', {}, ENDED.has(task.state) ? String(task.exit_code) : '–'),
        task.state === 'pending'
          ? [h('dt', {}, 'Why pending'), h('dd', {}, explain.pending_reason || task.pending_reason || '–')] : null,
        h('dt', {}, 'Trace'), h('dd', {}, traceId
          ? h('a', { href: `#/trace/${traceId}`, id: 'trace-link' }, traceId) : 'none')),
      h('h3', {}, 'Attempts'),
      attemptsTable(task, explain));
    if (ENDED.has(task.state)) {
      actions.replaceChildren();
    } else if (!actions.querySelector('button')) {
      const button = h('button', { type: 'button', id: 'cancel', onclick: async () => {
        button.disabled = true;
        try {
          await api(`/v1/populi/tasks/${encodeURIComponent(id)}/cancel`, { method: 'POST', body: {} });
          await draw();
        } catch (err) {
          button.disabled = false;
          actions.append(errorBox(err));
        }
      } }, 'Cancel task');
      actions.replaceChildren(button);
    }
  };
  await draw();
  ctx.onEvent(['task.', 'lease.'], (e) => {
    if (e.kind === 'stream.live' || e.subject === id || (e.data && e.data.scope_key === `task:${id}`)) {
      draw().catch(() => {});
    }
  });

  // The output so far, then as it comes; a dropped stream resumes after the last chunk.
  const stream = new Stream(
    (last) => `/v1/populi/tasks/${encodeURIComponent(id)}/logs?follow=1&after=${last ?? 0}`, {
      onFrame: (f) => {
        if (f.event === 'log') {
          logs.append(f.data.stream === 'stderr'
            ? h('span', { class: 'stderr', title: 'standard error' }, f.data.data) : f.data.data);
        } else if (f.event === 'end') {
          logState.textContent = `Output complete: the task ${f.data.state}` +
            (f.data.exit_code >= 0 ? ` with exit code ${f.data.exit_code}.` : '.');
          logState.dataset.ended = 'true';
        }
      },
      onState: (s) => {
        if (s === 'live' && !logState.dataset.ended) logState.textContent = 'Following the output live.';
        if (s === 'reconnecting') logState.textContent = 'Output stream dropped; resuming…';
      },
    });
  ctx.onLeave(() => stream.close());
}
