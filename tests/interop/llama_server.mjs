// A minimal OpenAI-compatible server around a real engine: llama.cpp through node-llama-cpp
// (pinned by package-lock.json, its prebuilt linux-x64 CPU binary), serving one GGUF file.
// The tests run it on a tiny model they write themselves (tests/models/tiny_llama_model.h):
// tests/e2e/llama_engine_test.cc, docs/models.md "A real engine in the tests".
//
//   node llama_server.mjs PORT MODEL.gguf      (PORT 0: an ephemeral one)
//
// Prints "listening on PORT" once it accepts connections on 127.0.0.1. Routes:
//   GET  /v1/models            the model, with llama-server's `meta` (n_ctx_train, n_params,
//                              size) and vLLM's `max_model_len` (the context it was loaded with)
//   POST /v1/chat/completions  messages → one completion; `stream: true` sends OpenAI's
//                              chat.completion.chunk events and ends with `data: [DONE]`
//   POST /v1/completions       prompt → one text completion (same `stream` rule)
//   GET  /slots                llama-server's shape: its one slot, `is_processing` while a
//                              generation runs
// Decoding is greedy (temperature 0) whatever the request says, so answers are deterministic;
// max_tokens defaults to 16 and is capped at 128. Requests run one at a time on one sequence.
// Never builds llama.cpp and never downloads anything: a missing or unusable prebuilt binary is
// an error on stderr and exit code 2.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import {randomUUID} from 'node:crypto';
import {getLlama, LlamaLogLevel} from 'node-llama-cpp';

const DEFAULT_MAX_TOKENS = 16;
const MAX_TOKENS_CAP = 128;

const [portArg, modelPath] = process.argv.slice(2);
if (portArg === undefined || modelPath === undefined) {
  process.stderr.write('usage: node llama_server.mjs PORT MODEL.gguf\n');
  process.exit(2);
}

let llama, model, context, sequence;
try {
  llama = await getLlama({
    gpu: false,
    build: 'never',
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
    maxThreads: 1,
  });
  model = await llama.loadModel({modelPath, gpuLayers: 0});
  context = await model.createContext({contextSize: Math.min(model.trainContextSize, 4096),
                                       sequences: 1, threads: 1});
  sequence = context.getSequence();
} catch (err) {
  process.stderr.write(`llama_server: cannot load ${modelPath}: ${err?.stack ?? err}\n`);
  process.exit(2);
}

const modelId = path.basename(modelPath).replace(/\.gguf$/, '');
const created = Math.floor(Date.now() / 1000);

function modelCard() {
  return {
    id: modelId,
    object: 'model',
    created,
    owned_by: 'llamacpp',
    max_model_len: context.contextSize,
    meta: {
      n_ctx_train: model.trainContextSize,
      n_params: Number(model.fileInsights.totalParameters ?? 0),
      size: fs.statSync(modelPath).size,
      n_vocab: model.tokens.count ?? undefined,
    },
  };
}

function sendJson(res, status, body) {
  res.writeHead(status, {'content-type': 'application/json'});
  res.end(JSON.stringify(body));
}

function sendError(res, status, message, code) {
  sendJson(res, status, {error: {message, type: 'invalid_request_error', code}});
}

// A plain transcript; the tiny model has no chat template of its own.
function renderChat(messages) {
  return messages.map((m) => `${m.role}: ${typeof m.content === 'string' ? m.content : ''}\n`)
      .join('') + 'assistant:';
}

// One request at a time: a chain of promises.
let queue = Promise.resolve();
let generating = 0;  // generations running (at most one: they run one at a time)

function serialized(fn) {
  const counted = async () => {
    generating++;
    try {
      return await fn();
    } finally {
      generating--;
    }
  };
  const run = queue.then(counted, counted);
  queue = run.catch(() => {});
  return run;
}

// Greedy generation from `prompt`; onPiece(text) per token whose text is complete (a token that
// ends inside a UTF-8 sequence is held until the sequence completes). Returns the whole text
// and the counts.
async function generate(prompt, maxTokens, onPiece) {
  await sequence.clearHistory();
  const input = model.tokenize(prompt);
  if (model.tokens.shouldPrependBosToken && model.tokens.bos != null) input.unshift(model.tokens.bos);
  const out = [];
  let sent = '';
  let finish = 'length';
  if (maxTokens > 0) {
    for await (const token of sequence.evaluate(input, {temperature: 0})) {
      if (model.isEogToken(token)) {
        finish = 'stop';
        break;
      }
      out.push(token);
      const text = model.detokenize(out);
      if (!text.endsWith('\uFFFD') && text.length > sent.length) {
        await onPiece(text.slice(sent.length));
        sent = text;
      }
      if (out.length >= maxTokens) break;
    }
  }
  const text = model.detokenize(out);
  if (text.length > sent.length) await onPiece(text.slice(sent.length));
  return {text, finish, promptTokens: input.length, completionTokens: out.length};
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function complete(req, res, chat) {
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch {
    return sendError(res, 400, 'the body is not JSON', 'invalid_json');
  }
  if (chat && (!Array.isArray(body.messages) || body.messages.length === 0)) {
    return sendError(res, 400, '`messages` must be a non-empty array', 'invalid_messages');
  }
  if (!chat && typeof body.prompt !== 'string') {
    return sendError(res, 400, '`prompt` must be a string', 'invalid_prompt');
  }
  if (body.model !== undefined && body.model !== modelId) {
    return sendError(res, 404, `model ${body.model} is not served here (${modelId} is)`,
                     'model_not_found');
  }
  const requested = body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS;
  const maxTokens = Math.max(0, Math.min(MAX_TOKENS_CAP, Number(requested) || 0));
  const id = (chat ? 'chatcmpl-' : 'cmpl-') + randomUUID();
  const object = chat ? 'chat.completion' : 'text_completion';
  const prompt = chat ? renderChat(body.messages) : body.prompt;
  const stamp = Math.floor(Date.now() / 1000);
  const usage = (r) => ({prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens,
                         total_tokens: r.promptTokens + r.completionTokens});

  if (!body.stream) {
    const r = await serialized(() => generate(prompt, maxTokens, async () => {}));
    const choice = chat ? {index: 0, message: {role: 'assistant', content: r.text},
                           finish_reason: r.finish}
                        : {index: 0, text: r.text, finish_reason: r.finish};
    return sendJson(res, 200, {id, object, created: stamp, model: modelId, choices: [choice],
                               usage: usage(r)});
  }

  res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'});
  const chunkObject = chat ? 'chat.completion.chunk' : 'text_completion';
  const event = (choice, extra = {}) => res.write(`data: ${JSON.stringify({
    id, object: chunkObject, created: stamp, model: modelId, choices: [choice], ...extra})}\n\n`);
  if (chat) event({index: 0, delta: {role: 'assistant', content: ''}, finish_reason: null});
  const r = await serialized(() => generate(prompt, maxTokens, async (piece) => {
    event(chat ? {index: 0, delta: {content: piece}, finish_reason: null}
               : {index: 0, text: piece, finish_reason: null});
  }));
  event(chat ? {index: 0, delta: {}, finish_reason: r.finish}
             : {index: 0, text: '', finish_reason: r.finish}, {usage: usage(r)});
  res.end('data: [DONE]\n\n');
}

const server = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  if (req.method === 'GET' && url === '/v1/models') {
    return sendJson(res, 200, {object: 'list', data: [modelCard()]});
  }
  if (req.method === 'GET' && url === '/slots') {
    return sendJson(res, 200, [{id: 0, id_task: generating > 0 ? 0 : -1,
                                n_ctx: context.contextSize,
                                is_processing: generating > 0}]);
  }
  if (req.method === 'POST' && (url === '/v1/chat/completions' || url === '/v1/completions')) {
    complete(req, res, url === '/v1/chat/completions').catch((err) => {
      process.stderr.write(`llama_server: ${err?.stack ?? err}\n`);
      if (!res.headersSent) sendError(res, 500, String(err?.message ?? err), 'engine_error');
      else res.end();
    });
    return;
  }
  sendError(res, 404, `no route ${req.method} ${url}`, 'not_found');
});

server.listen(Number(portArg), '127.0.0.1', () => {
  process.stdout.write(`listening on ${server.address().port}\n`);
});
