// The dashboard: sign-in, the hash router, and the one event stream every view listens to.
// Views re-read the JSON API when an event concerns them; nothing polls.
import { api, h, session, Stream, onUnauthenticated, errorBox } from './lib.js';
import { meshView, leasesView, modelsView } from './views_mesh.js';
import { tasksView, taskView } from './views_tasks.js';
import { eventsView, traceView } from './views_events.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const live = document.getElementById('live');

// The mesh's events: the newest ones read at sign-in, then the stream from there on.
const bus = { listeners: new Set(), recent: [], head: 0, stream: null };
const RECENT = 300;

function emit(event) {
  bus.recent.push(event);
  if (bus.recent.length > RECENT) bus.recent.splice(0, bus.recent.length - RECENT);
  bus.listeners.forEach((fn) => fn(event));
}

async function startEvents() {
  // Pages up to the newest event: the stream starts there, and the last pages feed the events
  // view. Event ids are commit order, so nothing between the pages and the stream is lost.
  let after = 0;
  for (;;) {
    const page = await api(`/v1/populi/events?after=${after}&limit=1000`);
    bus.recent = bus.recent.concat(page.events).slice(-RECENT);
    const full = page.events.length >= 1000 && page.next_after > after;
    after = page.next_after;
    if (!full) break;
  }
  bus.head = after;
  bus.stream = new Stream((last) => `/v1/populi/events?follow=1&after=${last ?? after}`, {
    lastId: after,
    resumeHeader: true,
    onFrame: (f) => emit(f.data),
    onState: (s) => {
      live.textContent = s === 'live' ? 'Live updates: connected'
        : s === 'reconnecting' ? 'Live updates: reconnecting…' : 'Live updates: stopped';
      live.dataset.state = s;
      // A view drawn before the stream was (re)connected may have missed nothing, but re-reading
      // once is cheap and makes that certain.
      if (s === 'live') bus.listeners.forEach((fn) => fn({ kind: 'stream.live' }));
    },
  });
}

function stopEvents() {
  if (bus.stream) bus.stream.close();
  bus.stream = null;
  bus.recent = [];
  live.textContent = '';
}

// What a view gets: where to draw, its parameters, and hooks that end when it is left.
class ViewContext {
  constructor(params, query) {
    this.params = params;
    this.query = query;
    this.cleanups = [];
    this.active = true;
  }
  // `fn(event)` for events whose kind starts with one of `prefixes`, and after a (re)connect.
  onEvent(prefixes, fn) {
    const listener = (e) => {
      if (!this.active) return;
      if (e.kind === 'stream.live' || prefixes.some((p) => e.kind.startsWith(p))) fn(e);
    };
    bus.listeners.add(listener);
    this.cleanups.push(() => bus.listeners.delete(listener));
  }
  onLeave(fn) { this.cleanups.push(fn); }
  recentEvents() { return bus.recent.slice(); }
  leave() {
    this.active = false;
    this.cleanups.forEach((fn) => fn());
  }
}

const ROUTES = [
  [/^mesh$/, meshView, 'Mesh'],
  [/^tasks$/, tasksView, 'Tasks'],
  [/^tasks\/([A-Za-z0-9._:-]+)$/, taskView, 'Task'],
  [/^leases$/, leasesView, 'Leases'],
  [/^models$/, modelsView, 'Models'],
  [/^events$/, eventsView, 'Events'],
  [/^trace\/([0-9a-f]{32})$/, traceView, 'Trace'],
];

let current = null;
let firstRoute = true;

async function route() {
  if (current) current.leave();
  current = null;
  const hash = location.hash.replace(/^#\/?/, '');
  if (session.token === null) {
    if (hash !== 'signin') location.replace('#/signin');
    signIn();
    return;
  }
  const [path, queryText = ''] = hash.split('?');
  const query = Object.fromEntries(new URLSearchParams(queryText));
  const found = ROUTES.map(([re, view, title]) => [re.exec(path), view, title])
    .find(([m]) => m);
  if (!found) {
    location.replace('#/mesh');
    return;
  }
  const [m, view, title] = found;
  nav.hidden = false;
  for (const a of nav.querySelectorAll('a')) {
    const here = path === a.getAttribute('href').slice(2) || path.startsWith(`${a.getAttribute('href').slice(2)}/`);
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = `${title} · Populi`;
  const ctx = new ViewContext(m.slice(1).map(decodeURIComponent), query);
  current = ctx;
  const section = h('section', { 'aria-labelledby': 'view-title' });
  main.replaceChildren(section);
  try {
    await view(section, ctx);
  } catch (err) {
    if (ctx.active) section.append(errorBox(err));
  }
  // Keyboard and screen-reader users land on the new view's heading, not the top of the page.
  const heading = section.querySelector('h2');
  if (heading && ctx.active && !firstRoute) {
    heading.tabIndex = -1;
    heading.focus();
  }
  firstRoute = false;
}

function signIn() {
  nav.hidden = true;
  document.title = 'Sign in · Populi';
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'token-help',
  });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'signin', onsubmit: async (ev) => {
    ev.preventDefault();
    session.token = input.value.trim();
    try {
      await api('/v1/populi/version');
    } catch (err) {
      session.token = null;
      status.replaceChildren(errorBox(err));
      return;
    }
    await startEvents().catch((err) => status.replaceChildren(errorBox(err)));
    location.hash = '#/mesh';
  } },
  h('h2', { id: 'view-title' }, 'Sign in'),
  h('label', { for: 'token' }, 'Mesh token'),
  input,
  h('p', { id: 'token-help', class: 'help' },
    'A read-only token is enough to look; cancelling a task needs a submitter token or above. ',
    'The token stays in this browser tab only (session storage) and is sent to this control plane alone. ',
    'On a mesh without tokens, leave it empty.'),
  h('button', { type: 'submit' }, 'Sign in'),
  status);
  main.replaceChildren(form);
  input.focus();
}

function signOut() {
  session.token = null;
  stopEvents();
  location.hash = '#/signin';
}

onUnauthenticated.add(() => {
  if (session.token === null) return;
  signOut();
});

document.getElementById('signout').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
// The first view is drawn before the event stream is set up: it is what the user waits for, and
// the stream's first (re)connect makes every view re-read once anyway.
route().finally(() => {
  if (session.token !== null && bus.stream === null) {
    startEvents().catch(() => { live.textContent = 'Live updates: unavailable'; });
  }
});
