-- wrk: tools/call test_simple_text with a unique JSON-RPC id per request (per thread ranges).
-- MCP_SESSION: the session to call in (stateful); MCP_STATELESS=1: the 2026-07-28 stateless
-- form (_meta and Mcp-Method/Mcp-Name headers, no session).
local threads = 0
function setup(thread)
  thread:set("base", threads * 1000000000)
  threads = threads + 1
end

local counter
local meta = ""
function init(args)
  counter = base
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  local session = os.getenv("MCP_SESSION")
  if session and session ~= "" then
    wrk.headers["Mcp-Session-Id"] = session
    wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
  end
  if os.getenv("MCP_STATELESS") == "1" then
    wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
    wrk.headers["Mcp-Method"] = "tools/call"
    wrk.headers["Mcp-Name"] = "test_simple_text"
    meta = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
      '"io.modelcontextprotocol/clientCapabilities":{},' ..
      '"io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"4"}}'
  end
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}%s}}',
    counter, meta)
  return wrk.format(nil, nil, nil, body)
end

