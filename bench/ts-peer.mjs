// The peer: an MCP server on the official TypeScript SDK (1.32.2, Express, Streamable HTTP)
// with the same tool the hosted fixture answers, `test_simple_text`. `/mcp` keeps sessions
// (the SDK's stateful transport); `/stateless` makes a server and transport per request, as
// the SDK's stateless example does.
import { randomUUID } from 'node:crypto';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';

const port = Number(process.argv[2]);

function server() {
  const mcp = new McpServer({ name: 'ts-peer', version: '1.0.0' });
  mcp.registerTool('test_simple_text', { description: 'Tests simple text content response' }, async () => ({
    content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
  }));
  return mcp;
}

const app = express();
app.use(express.json());
const sessions = new Map();

app.all('/mcp', async (req, res) => {
  const id = req.headers['mcp-session-id'];
  if (id && sessions.has(id)) return sessions.get(id).handleRequest(req, res, req.body);
  if (req.method === 'POST' && req.body?.method === 'initialize') {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => sessions.set(sid, transport),
    });
    transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
    await server().connect(transport);
    return transport.handleRequest(req, res, req.body);
  }
  res.status(404).json({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } });
});

app.post('/stateless', async (req, res) => {
  const mcp = server();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => { transport.close(); mcp.close(); });
  await mcp.connect(transport);
  await transport.handleRequest(req, res, req.body);
});

app.listen(port, '127.0.0.1');
