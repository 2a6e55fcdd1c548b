// A scripted OpenAI-compatible inference engine for the end-to-end tests (tests/e2e/
// inventory_test.cc, inference_test.cc): a real process on loopback. Prints "listening on PORT"
// once it accepts connections on 127.0.0.1 (an ephemeral port).
//
//   node fake_engine.mjs [--name NAME] [--slots N] MODEL_ID...
//
// GET /v1/models lists the model ids, in the shape llama.cpp's server answers with.
// POST /v1/chat/completions and /v1/completions answer deterministically: the tokens
// "hello", " from", " NAME" (streamed as server-sent events when `stream` is true, one
// chunk per token, then [DONE]); POST /v1/embeddings answers a fixed vector. The last message of
// a chat (or the prompt) may carry directives:
//   [fail:NAME:STATUS]   the engine called NAME answers STATUS (429, 500…) before any token
//   [only:NAME]          every engine not called NAME answers 500
//   [die:NAME]           the engine called NAME drops the connection before any token
//   [die-mid]            streams two tokens, then drops the connection
//   [slow-stream]        streams a token every 50 ms, 400 tokens
//   [tokens:N]           streams N tokens as fast as it can (benchmarks)
//   [slow-first:MS]      answers (the status line included) only after MS ms
// A simulated prefix cache: usage.prompt_tokens_details.cached_tokens is the length of the
// longest earlier request text that this one starts with (what a real engine's cache would
// reuse). GET /debug/stats answers {"requests","aborted","cached_requests"}: `aborted` counts
// requests whose client (the node's agent) went away before the answer was complete, whether
// or not it had started.
// GET /slots answers in llama-server's shape: N slots (--slots, default 4), `is_processing` on as
// many as the engine has requests in progress plus the busy slots POST /debug/busy {"busy":K}
// pins (traffic from outside the mesh, as another client's requests would be).
import http from 'node:http';

const args = process.argv.slice(2);
let name = 'engine';
let slots = 4;
const ids = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--name') name = args[++i];
  else if (args[i] === '--slots') slots = Number(args[++i]);
  else ids.push(args[i]);
}
let active = 0;  // requests in progress
let pinned = 0;  // busy slots pinned by POST /debug/busy

// Counts `res` as in progress until it is finished or its client went away.
function track(res) {
  active++;
  let open = true;
  const done = () => {
    if (open) active--;
    open = false;
  };
  res.on('finish', done);
  res.on('close', done);
}

const seen = [];
const stats = {requests: 0, aborted: 0, cached_requests: 0};

function textOf(body) {
  if (Array.isArray(body.messages)) {
    return body.messages
        .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
        .join('\n');
  }
  if (body.prompt !== undefined) return JSON.stringify(body.prompt);
  return JSON.stringify(body.input ?? '');
}

// Where directives are read: the last message, so a later turn of a conversation does not
// repeat an earlier turn's.
function lastOf(body) {
  if (Array.isArray(body.messages) && body.messages.length > 0) {
    const m = body.messages[body.messages.length - 1];
    return typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
  }
  return textOf(body);
}

function cachedPrefix(text) {
  let best = 0;
  for (const s of seen) if (s.length > best && text.startsWith(s)) best = s.length;
  seen.push(text);
  return best;
}

function chunk(kind, model, token, finish) {
  const choice = kind === 'chat' ?
      {index: 0, delta: token === null ? {} : {content: token}, finish_reason: finish} :
      {index: 0, text: token ?? '', finish_reason: finish};
  return JSON.stringify({
    id: 'fake-1', object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: 0, model, choices: [choice],
  });
}

function answer(req, res, kind, body) {
  const whole = textOf(body);
  const cached = cachedPrefix(whole);
  const text = lastOf(body);
  if (cached > 0) stats.cached_requests++;
  const fail = text.match(new RegExp(`\\[fail:${name}:(\\d+)\\]`));
  const only = text.match(/\[only:([^\]]+)\]/);
  if (fail || (only && only[1] !== name)) {
    const status = fail ? Number(fail[1]) : 500;
    res.writeHead(status, {'content-type': 'application/json'});
    res.end(JSON.stringify({error: {message: `${name} refuses`, type: 'server_error'}}));
    return;
  }
  if (text.includes(`[die:${name}]`)) {
    req.socket.destroy();
    return;
  }
  const slowFirst = text.match(/\[slow-first:(\d+)\]/);
  if (slowFirst) {
    let gone = false;
    res.on('close', () => {
      if (!gone) stats.aborted++;
      gone = true;
    });
    setTimeout(() => {
      if (gone) return;
      gone = true;
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(JSON.stringify({id: 'fake-1', object: 'chat.completion', created: 0,
        model: body.model, choices: [{index: 0, message: {role: 'assistant', content: 'late'},
          finish_reason: 'stop'}]}));
    }, Number(slowFirst[1]));
    return;
  }
  const many = text.match(/\[tokens:(\d+)\]/);
  const tokens = text.includes('[slow-stream]') ? Array.from({length: 400}, (_, i) => ` t${i}`) :
      many ? Array.from({length: Number(many[1])}, (_, i) => ` t${i}`) :
             ['hello', ' from', ` ${name}`];
  const usage = {prompt_tokens: whole.length, completion_tokens: tokens.length,
    prompt_tokens_details: {cached_tokens: cached}};
  if (!body.stream) {
    const content = tokens.join('');
    const choice = kind === 'chat' ?
        {index: 0, message: {role: 'assistant', content}, finish_reason: 'stop'} :
        {index: 0, text: content, finish_reason: 'stop'};
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify({id: 'fake-1', object: kind === 'chat' ? 'chat.completion' :
      'text_completion', created: 0, model: body.model, choices: [choice], usage}));
    return;
  }
  res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'});
  const dieMid = text.includes('[die-mid]');
  const delay = text.includes('[slow-stream]') ? 50 : 0;
  let i = 0;
  let done = false;
  res.on('close', () => {
    if (!done) stats.aborted++;
  });
  const step = () => {
    if (res.destroyed) return;
    if (dieMid && i === 2) {
      req.socket.destroy();
      return;
    }
    if (i < tokens.length) {
      res.write(`data: ${chunk(kind, body.model, tokens[i++], null)}\n\n`);
      setTimeout(step, delay);
      return;
    }
    res.write(`data: ${chunk(kind, body.model, null, 'stop')}\n\n`);
    res.write('data: [DONE]\n\n');
    done = true;
    res.end();
  };
  step();
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/v1/models') {
    const data = ids.map((id) => ({
      id,
      object: 'model',
      created: 0,
      owned_by: 'llamacpp',
      meta: {n_ctx_train: 2048, n_params: 1000, size: 4096},
    }));
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify({object: 'list', data}));
    return;
  }
  if (req.method === 'GET' && req.url === '/slots') {
    const busy = Math.min(slots, active + pinned);
    const data = Array.from({length: slots}, (_, id) => ({
      id, id_task: id < busy ? 1000 + id : -1, n_ctx: 2048, speculative: false,
      is_processing: id < busy,
    }));
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify(data));
    return;
  }
  if (req.method === 'POST' && req.url === '/debug/busy') {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      pinned = Number(JSON.parse(raw).busy) || 0;
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(JSON.stringify({busy: pinned}));
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/debug/stats') {
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify(stats));
    return;
  }
  const routes = {'/v1/chat/completions': 'chat', '/v1/completions': 'text', '/v1/embeddings': 'emb'};
  const kind = req.method === 'POST' ? routes[req.url] : undefined;
  if (kind === undefined) {
    res.writeHead(404, {'content-type': 'application/json'});
    res.end(JSON.stringify({error: {message: 'not found', type: 'not_found_error'}}));
    return;
  }
  let raw = '';
  req.on('data', (d) => (raw += d));
  track(res);
  req.on('end', () => {
    stats.requests++;
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400, {'content-type': 'application/json'});
      res.end(JSON.stringify({error: {message: 'bad json', type: 'invalid_request_error'}}));
      return;
    }
    if (kind === 'emb') {
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(JSON.stringify({object: 'list', model: body.model,
        data: [{object: 'embedding', index: 0, embedding: [0.25, 0.5, name.length]}]}));
      return;
    }
    answer(req, res, kind, body);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on ${server.address().port}\n`);
});
