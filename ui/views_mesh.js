// The mesh (nodes, their GPUs and running tasks), the exec leases and the model inventory.
import {
  api, h, debounce, fmtTime, fmtAgo, fmtBytes, stateBadge, table,
} from './lib.js';

function gpuMeter(gpu, i) {
  const total = gpu.memory_total_bytes || 0;
  const used = gpu.memory_used_bytes ?? (total - (gpu.memory_free_bytes || 0));
  const free = gpu.memory_free_bytes ?? (total - used);
  const label = `${gpu.name || `GPU ${i}`}: ${fmtBytes(used)} used, ${fmtBytes(free)} free of ${fmtBytes(total)}`;
  return h('li', { class: 'gpu' },
    h('span', {}, label),
    h('meter', { min: 0, max: total || 1, value: used, 'aria-label': label }, label));
}

function nodeCard(node, now, running) {
  const flags = [];
  if (node.maintenance) flags.push('in maintenance');
  if (node.quarantined) flags.push('quarantined');
  const labels = Object.entries(node.labels || {});
  const cpu = node.cpu || {};
  return h('article', { class: 'node', 'data-node': node.id, 'aria-labelledby': `node-${node.id}` },
    h('h3', { id: `node-${node.id}` }, node.id),
    h('dl', {},
      h('dt', {}, 'State'), h('dd', {}, stateBadge(node.state), flags.length ? ` (${flags.join(', ')})` : ''),
      h('dt', {}, 'Last seen'), h('dd', {}, fmtAgo(node.last_seen_ms, now), ' · ', fmtTime(node.last_seen_ms)),
      node.host ? [h('dt', {}, 'Host'), h('dd', {}, node.host)] : null,
      h('dt', {}, 'CPU'), h('dd', {}, cpu.model || '–',
        cpu.cores ? ` · ${cpu.cores} cores` : '',
        cpu.memory_total_bytes ? ` · ${fmtBytes(cpu.memory_total_bytes)} memory` : ''),
      h('dt', {}, 'Labels'), h('dd', {}, labels.length
        ? h('ul', { class: 'labels' }, labels.map(([k, v]) => h('li', {}, h('code', {}, `${k}=${v}`))))
        : 'none'),
      h('dt', {}, 'Trust, visibility'), h('dd', {}, `${node.trust_tier}, ${node.visibility}`),
      h('dt', {}, 'Paired with'), h('dd', {}, (node.paired_with || []).join(', ') || 'no node'),
      h('dt', {}, 'GPUs'), h('dd', {}, (node.gpus || []).length
        ? h('ul', { class: 'gpus' }, node.gpus.map(gpuMeter)) : 'none'),
      h('dt', {}, 'Running tasks'), h('dd', {}, running.length
        ? h('ul', {}, running.map((id) => h('li', {}, h('a', { href: `#/tasks/${id}` }, id))))
        : 'none')));
}

export async function meshView(section, ctx) {
  const summary = h('p', { class: 'summary' }, 'Loading nodes…');
  const grid = h('div', { class: 'nodes' });
  section.append(h('h2', { id: 'view-title' }, 'Mesh'), summary, grid);
  let running = new Map();
  let last = null;
  const paint = () => {
    const nodes = last.nodes.slice().sort((a, b) => a.id.localeCompare(b.id));
    const alive = nodes.filter((n) => n.state === 'alive').length;
    summary.textContent = `${nodes.length} nodes, ${alive} alive · as of ${new Date(last.server_time_ms).toLocaleTimeString()}`;
    grid.replaceChildren(...nodes.map((n) => nodeCard(n, last.server_time_ms, running.get(n.id) || [])));
    // The first paint with data, for bench numbers (docs/dashboard.md).
    if (!performance.getEntriesByName('populi.mesh.drawn').length) performance.mark('populi.mesh.drawn');
  };
  const draw = async () => {
    // Running tasks come from the task list (the control plane's own record), not from what an
    // agent reported when it joined. The nodes are drawn as soon as they are in; the tasks
    // follow.
    const tasksReply = api('/v1/populi/tasks?state=running&limit=500');
    last = await api('/v1/populi/nodes');
    if (!ctx.active) return;
    paint();
    const tasks = await tasksReply;
    if (!ctx.active) return;
    running = new Map();
    for (const t of tasks.tasks) {
      const a = (t.attempts || [])[t.attempts.length - 1];
      if (a) running.set(a.node_id, (running.get(a.node_id) || []).concat(t.id));
    }
    paint();
  };
  await draw();
  ctx.onEvent(['node.', 'task.'], debounce(() => draw().catch(() => {})));
}

export async function leasesView(section, ctx) {
  const showEnded = h('input', { type: 'checkbox', id: 'show-ended' });
  const body = h('div', {});
  section.append(h('h2', { id: 'view-title' }, 'Leases'),
    h('p', {}, showEnded, ' ', h('label', { for: 'show-ended' }, 'Show ended leases')), body);
  const draw = async () => {
    const reply = await api(`/v1/populi/exec/leases?live_only=${showEnded.checked ? 0 : 1}`);
    if (!ctx.active) return;
    const rows = reply.leases.map((l) => h('tr', {},
      h('td', {}, h('code', {}, l.lease_id)),
      h('td', {}, l.scope_key.startsWith('task:')
        ? h('a', { href: `#/tasks/${l.scope_key.slice(5).split(':')[0]}` }, l.scope_key) : l.scope_key),
      h('td', {}, l.holder_node_id),
      h('td', {}, String(l.fencing_token)),
      h('td', {}, stateBadge(l.state)),
      h('td', {}, fmtTime(l.granted_ms)),
      h('td', {}, fmtTime(l.ended_ms || l.expires_ms))));
    body.replaceChildren(rows.length
      ? table(`${rows.length} ${showEnded.checked ? '' : 'live '}leases`,
        ['Lease', 'Scope', 'Holder', 'Fencing token', 'State', 'Granted', 'Expires / ended'], rows)
      : h('p', {}, showEnded.checked ? 'No leases.' : 'No live leases.'));
  };
  showEnded.addEventListener('change', () => draw().catch(() => {}));
  await draw();
  ctx.onEvent(['lease.'], debounce(() => draw().catch(() => {})));
}

export async function modelsView(section, ctx) {
  const byModel = h('div', {});
  const byNode = h('div', {});
  section.append(h('h2', { id: 'view-title' }, 'Models'),
    h('h3', {}, 'By model'), byModel, h('h3', {}, 'By node'), byNode);
  const draw = async () => {
    const reply = await api('/v1/populi/models');
    if (!ctx.active) return;
    const rows = reply.models.map((m) => h('tr', {},
      h('td', {}, m.name || m.id, m.name && m.name !== m.id ? h('div', { class: 'sub' }, h('code', {}, m.id)) : ''),
      h('td', {}, [m.format, m.quantization].filter(Boolean).join(' · ') || '–'),
      h('td', {}, fmtBytes(m.size_bytes)),
      h('td', {}, h('ul', { class: 'holders' }, (m.nodes || []).map((n) => h('li', {},
        `${n.node_id}: `, stateBadge(n.state),
        n.loaded ? ', loaded' : ', on disk',
        n.endpoint ? ` at ${n.endpoint}` : ''))))));
    byModel.replaceChildren(rows.length
      ? table(`${rows.length} models`, ['Model', 'Format', 'Size', 'Held by (where loaded)'], rows)
      : h('p', {}, 'No node reports a model.'));
    const nodeRows = (reply.nodes || []).map((n) => h('tr', {},
      h('td', {}, n.node_id),
      h('td', {}, stateBadge(n.state), ` (node ${n.node_state})`),
      h('td', {}, String(n.models)),
      h('td', {}, fmtTime(n.refreshed_ms)),
      h('td', {}, (n.problems || []).map((p) => p.message || JSON.stringify(p)).join('; ') || 'none')));
    byNode.replaceChildren(nodeRows.length
      ? table(`${nodeRows.length} reporting nodes`, ['Node', 'Report', 'Models', 'Refreshed', 'Problems'], nodeRows)
      : h('p', {}, 'No node has reported its models.'));
  };
  await draw();
  ctx.onEvent(['model.', 'node.'], debounce(() => draw().catch(() => {})));
}
