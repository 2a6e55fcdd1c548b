// The dashboard's event-stream reader (ui/lib.js `Stream`) against a scripted fetch: a stream
// that drops mid-way is reopened from the last event id it handled (both `after=` in the URL it
// builds and the Last-Event-ID header), a comment frame moves nothing, a clean end of the body
// reconnects too, an `end` frame stops it, and close() stops it for good. Prints `ok` lines; exit
// code 0 only when all hold. Run by tests/ui/dashboard_test.cc.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

globalThis.sessionStorage = {
  items: new Map([['populi.token', 'secret-token']]),
  getItem(k) { return this.items.has(k) ? this.items.get(k) : null; },
  setItem(k, v) { this.items.set(k, v); },
  removeItem(k) { this.items.delete(k); },
};
// ui/ has no package.json: load the module from its text.
const source = readFileSync(new URL('../../ui/lib.js', import.meta.url), 'utf8');
const { Stream } = await import(`data:text/javascript,${encodeURIComponent(source)}`);

const encoder = new TextEncoder();
// The text (a string, or chunks one read each), then (once read: erroring a stream drops what is
// queued) a network error or the end of the body.
function body(text, { fail = false } = {}) {
  const chunks = [].concat(text);
  return new ReadableStream({
    pull(c) {
      if (chunks.length) {
        c.enqueue(encoder.encode(chunks.shift()));
      } else if (fail) {
        c.error(new TypeError('network error'));
      } else {
        c.close();
      }
    },
  });
}
const frame = (id, kind) => `id: ${id}\nevent: ${kind}\ndata: {"id":${id},"kind":"${kind}"}\n\n`;

const calls = [];
const answers = [
  // Two events, a keepalive, then the connection drops.
  () => new Response(body(frame(7, 'task.placed') + ': keepalive\n\n' + frame(8, 'task.started'), { fail: true })),
  // The server restarted: refused once.
  () => new Response('{"error":{"code":"unavailable","message":"shutting down","hint":"retry"}}', { status: 503 }),
  // One more event split across two reads, then a clean end of the body.
  () => new Response(body([frame(9, 'task.succeeded').slice(0, 12), frame(9, 'task.succeeded').slice(12)])),
  // Open and quiet until closed.
  (signal) => new Response(new ReadableStream({
    start(c) { signal.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError'))); },
  })),
];
globalThis.fetch = async (url, opts) => {
  calls.push({ url, headers: opts.headers });
  const answer = answers[calls.length - 1];
  assert.ok(answer, `an unexpected request ${url}`);
  return answer(opts.signal);
};

const seen = [];
const states = [];
const stream = new Stream((last) => `/v1/populi/events?follow=1&after=${last ?? 5}`, {
  lastId: 5,
  resumeHeader: true,
  onFrame: (f) => seen.push(f.data.id),
  onState: (s) => states.push(s),
});
const until = async (pred) => {
  for (let i = 0; i < 200 && !pred(); i += 1) await new Promise((r) => setTimeout(r, 25));
  assert.ok(pred(), `timed out: calls ${JSON.stringify(calls.map((c) => c.url))} seen ${seen} states ${states}`);
};
await until(() => calls.length === 4 && seen.length === 3);
assert.deepEqual(seen, [7, 8, 9]);
assert.equal(calls[0].url, '/v1/populi/events?follow=1&after=5');
assert.equal(calls[0].headers['Last-Event-ID'], '5');
assert.equal(calls[0].headers.Authorization, 'Bearer secret-token');
assert.equal(calls[0].headers.Accept, 'text/event-stream');
console.log('ok the stream starts after the given id with the token');
assert.equal(calls[1].url, '/v1/populi/events?follow=1&after=8');
assert.equal(calls[1].headers['Last-Event-ID'], '8');
assert.equal(calls[2].url, '/v1/populi/events?follow=1&after=8');
assert.equal(calls[3].url, '/v1/populi/events?follow=1&after=9');
console.log('ok a dropped or refused stream resumes after the last event it handled');
assert.deepEqual(states.slice(0, 5), ['live', 'reconnecting', 'reconnecting', 'live', 'reconnecting']);
stream.close();
await new Promise((r) => setTimeout(r, 50));
assert.equal(calls.length, 4);
console.log('ok close() stops it');

// A log stream ends at its `end` frame and does not reconnect.
calls.length = 0;
answers.length = 0;
answers.push(() => new Response(body(`id: 3\nevent: log\ndata: {"seq":3,"data":"hi"}\n\nevent: end\ndata: {"state":"succeeded","exit_code":0}\n\n`)));
const events = [];
const logStates = [];
const logs = new Stream((last) => `/v1/populi/tasks/t-1/logs?follow=1&after=${last ?? 0}`, {
  onFrame: (f) => events.push(f.event),
  onState: (s) => logStates.push(s),
});
await until(() => logStates.includes('ended'));
assert.deepEqual(events, ['log', 'end']);
assert.equal(calls.length, 1);
assert.equal(calls[0].headers['Last-Event-ID'], undefined);
logs.close();
console.log('ok a log stream stops at its end frame');
