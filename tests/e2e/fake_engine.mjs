// A stand-in OpenAI-compatible inference engine for the inventory tests (tests/e2e/
// inventory_test.cc): GET /v1/models lists the model ids given as arguments, in the shape
// llama.cpp's server answers with; everything else is 404. Prints "listening on PORT" once it
// accepts connections on 127.0.0.1 (an ephemeral port).
import http from 'node:http';

const ids = process.argv.slice(2);

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
  res.writeHead(404, {'content-type': 'application/json'});
  res.end(JSON.stringify({error: {message: 'not found', type: 'not_found_error'}}));
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on ${server.address().port}\n`);
});
