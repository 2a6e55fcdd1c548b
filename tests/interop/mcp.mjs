// Drives `vox populi mcp` (stdio) and a control plane's /mcp (Streamable HTTP) with the official
// MCP TypeScript SDK client (tests/e2e/mcp_interop_test.cc runs it against a two-node loopback
// mesh). Usage: node mcp.mjs stdio|http
// Environment: VOX_BIN, MCP_URL (the control plane), MCP_TOKEN (its admin token),
// MCP_READ_ONLY_TOKEN (a read_only token), AGENT_NODE_ID (the joined agent), and for stdio
// whatever vox needs to find the control plane (VOX_HOME…).
// Prints one line per check; exits 0 when all held, 1 with the failure otherwise.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv from 'ajv';

const mode = process.argv[2];
const EXPECTED_TOOLS = [
  'a2a_receive', 'a2a_send', 'cancel_task', 'events_since', 'explain_task', 'list_nodes',
  'mesh_status', 'submit_task', 'task_logs', 'wait_task',
];

function check(cond, what, detail) {
  if (!cond) {
    throw new Error(`${what}${detail === undefined ? '' : ': ' + JSON.stringify(detail)}`);
  }
  console.log(`ok ${mode}: ${what}`);
}

function transportFor() {
  if (mode === 'stdio') {
    return new StdioClientTransport({
      command: process.env.VOX_BIN,
      args: ['populi', 'mcp'],
      env: { ...process.env },
      stderr: 'inherit',
    });
  }
  if (mode === 'http') {
    return new StreamableHTTPClientTransport(new URL('/mcp', process.env.MCP_URL), {
      requestInit: { headers: { Authorization: `Bearer ${process.env.MCP_TOKEN}` } },
    });
  }
  throw new Error('usage: node mcp.mjs stdio|http');
}

function validateSchemas(tools) {
  const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
  for (const tool of tools) {
    for (const key of ['inputSchema', 'outputSchema']) {
      const schema = tool[key];
      check(schema && schema.type === 'object', `${tool.name} has an object ${key}`);
      check(ajv.validateSchema(schema), `${tool.name} ${key} is valid JSON Schema`, ajv.errors);
      ajv.compile(schema);  // strict mode: unknown keywords and bad types throw
    }
    const a = tool.annotations ?? {};
    check(['readOnlyHint', 'destructiveHint', 'idempotentHint'].every((k) => typeof a[k] === 'boolean'),
      `${tool.name} has read-only, destructive and idempotent hints`);
    check(tool.description.length > 80, `${tool.name} has a description an agent can act on`);
  }
  check(tools.find((t) => t.name === 'cancel_task').annotations.destructiveHint === true,
    'cancel_task is marked destructive');
}

async function waitForNodes(client, count) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await client.callTool({ name: 'list_nodes', arguments: {} });
    const alive = r.structuredContent.nodes.filter((n) => n.state === 'alive');
    if (alive.length >= count) return alive;
    if (Date.now() > deadline) throw new Error(`fewer than ${count} alive nodes: ${JSON.stringify(alive)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

// Over HTTP: a read_only token sees and may call the read tools only; the session and protocol
// version rules of Streamable HTTP; a session ended by DELETE is gone.
async function checkHttpRules(sessionId) {
  const ro = new Client({ name: 'populi-interop-ro', version: '1.0.0' });
  await ro.connect(new StreamableHTTPClientTransport(new URL('/mcp', process.env.MCP_URL), {
    requestInit: { headers: { Authorization: `Bearer ${process.env.MCP_READ_ONLY_TOKEN}` } },
  }));
  const names = (await ro.listTools()).tools.map((t) => t.name);
  check(names.includes('list_nodes') && !names.includes('submit_task') &&
    !names.includes('cancel_task') && !names.includes('a2a_receive'),
  'a read_only token lists the read tools only', names);
  let code = 0;
  try {
    await ro.callTool({ name: 'submit_task', arguments: { command: 'sh' } });
  } catch (e) {
    code = e.code;
  }
  check(code === -32602, 'a read_only token may not call submit_task', code);
  await ro.close();

  const post = (headers, body) => fetch(new URL('/mcp', process.env.MCP_URL), {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${process.env.MCP_TOKEN}`, 'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream', ...headers,
    },
    body,
  });
  const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
  check((await post({}, ping)).status === 400, 'a request without Mcp-Session-Id is 400');
  check((await post({ 'Mcp-Session-Id': 'nosuchsession' }, ping)).status === 404,
    'an unknown session is 404');
  check((await post({ 'Mcp-Session-Id': sessionId }, ping)).status === 404,
    'a session ended by DELETE is 404');
  check((await post({ 'MCP-Protocol-Version': '1999-01-01' }, ping)).status === 400,
    'an unsupported MCP-Protocol-Version is 400');
  const garbled = await post({}, '{not json');
  check(garbled.status === 400 && (await garbled.json()).error.code === -32700,
    'malformed JSON is a JSON-RPC parse error');
}

async function main() {
  const client = new Client({ name: 'populi-interop', version: '1.0.0' });
  const transport = transportFor();
  await client.connect(transport);
  check(client.getServerVersion()?.name === 'populi', 'initialize names the server', client.getServerVersion());
  check(client.getServerCapabilities()?.tools !== undefined, 'the server offers tools');

  const { tools } = await client.listTools();
  check(JSON.stringify(tools.map((t) => t.name).sort()) === JSON.stringify(EXPECTED_TOOLS),
    'tools/list has every tool', tools.map((t) => t.name));
  validateSchemas(tools);

  const nodes = await waitForNodes(client, 2);
  check(nodes.some((n) => n.id === process.env.AGENT_NODE_ID), 'the joined agent is listed', nodes);

  // submit_task → wait_task → task_logs. Over HTTP the task is pinned to the joined agent, over
  // stdio it sleeps long enough for wait_task to report progress.
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const marker = `mcp-hello-${mode}`;
  const args = mode === 'http'
    ? { command: 'sh', args: ['-c', `echo ${marker}`], node_allow: [process.env.AGENT_NODE_ID] }
    : { command: 'sh', args: ['-c', `sleep 3; echo ${marker}`] };
  const submitted = await client.callTool({ name: 'submit_task', arguments: { ...args, traceparent } });
  check(!submitted.isError, 'submit_task succeeded', submitted.content);
  const sub = submitted.structuredContent;
  check(/^t-[0-9a-f]{16}$/.test(sub.task_id), 'submit_task returns the task id', sub);
  check(sub.traceparent === traceparent, 'submit_task returns the traceparent it used', sub);
  check(typeof sub.reason === 'string', 'submit_task says where it will likely land and why', sub);
  if (mode === 'http') {
    check(sub.likely_node_id === '' || sub.likely_node_id === process.env.AGENT_NODE_ID,
      'the likely node is the one it was pinned to', sub);
  }

  let progress = 0;
  const waited = await client.callTool(
    { name: 'wait_task', arguments: { task_id: sub.task_id, wait_ms: 90_000 } }, undefined,
    { timeout: 120_000, onprogress: () => { progress += 1; } });
  check(!waited.isError, 'wait_task succeeded', waited.content);
  check(waited.structuredContent.state === 'succeeded' && waited.structuredContent.exit_code === 0,
    'the task succeeded', waited.structuredContent);
  if (mode === 'stdio') check(progress > 0, 'wait_task sent progress notifications', progress);
  if (mode === 'http') {
    check(waited.structuredContent.node_id === process.env.AGENT_NODE_ID,
      'the task ran on the joined agent', waited.structuredContent);
  }

  const logs = await client.callTool({ name: 'task_logs', arguments: { task_id: sub.task_id } });
  check(!logs.isError && logs.structuredContent.stdout.includes(marker), 'task_logs has its output',
    logs.structuredContent);
  check(logs.content[0].type === 'text' && logs.content[0].text.includes(marker),
    'the text block carries the same content');

  // A mesh error is a tool result with the code, message and hint, not a protocol error.
  const bad = await client.callTool({ name: 'wait_task', arguments: { task_id: 't-0000000000000000', wait_ms: 100 } });
  check(bad.isError === true, 'an unknown task id is a tool error', bad);
  const body = JSON.parse(bad.content[0].text);
  check(body.error.code === 'not_found' && body.error.hint.length > 0,
    'the tool error has the code and a hint', body);

  const status = await client.callTool({ name: 'mesh_status', arguments: {} });
  check(status.structuredContent.nodes_by_state.alive >= 2, 'mesh_status counts the alive nodes',
    status.structuredContent);

  if (mode === 'http') {
    const sessionId = transport.sessionId;
    check(typeof sessionId === 'string' && sessionId.length > 0, 'initialize set Mcp-Session-Id');
    await transport.terminateSession();
    await client.close();
    await checkHttpRules(sessionId);
    return;
  }
  await client.close();
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAILED ${mode}: ${e.stack ?? e}`);
  process.exit(1);
});
