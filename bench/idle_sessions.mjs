// Opens `count` MCP sessions (initialize, then notifications/initialized) at `url` and leaves
// them idle: the server keeps each until it ends. Prints how many were opened.
const [url, count] = [process.argv[2], Number(process.argv[3])];
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
let opened = 0;
for (let i = 0; i < count; i += 1) {
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
      protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: `idle-${i}`, version: '1' } } }),
  });
  const session = init.headers.get('mcp-session-id');
  await init.arrayBuffer();
  if (!session) throw new Error(`no session from ${url}: ${init.status}`);
  const done = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await done.arrayBuffer();
  opened += 1;
}
console.log(opened);
