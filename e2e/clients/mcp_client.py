"""A headless MCP client on the official Python SDK (PyPI `mcp`), driven by the e2e tests.

Reads one JSON object from argv[1]:
  url         the MCP endpoint
  host        optional Host header (a server's own name, reached on 127.0.0.1)
  mode        "legacy" (initialize, a Streamable HTTP session) or "auto" (server/discover: the
              stateless 2026-07-28 revision when the server offers it)
  calls       [{"name": ..., "arguments": {...}}, ...] made in order, in one connection; an
              argument "$current_step" is replaced by the "Current Step ID" the previous
              result named (walkthroughs)
Prints one JSON object: the negotiated protocol version, the server's name, the tools listed
and each call's result (isError and text).
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation


async def main(spec: dict) -> dict:
    headers = {"Host": spec["host"]} if spec.get("host") else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(spec["url"], http_client=http)
        client_info = Implementation(name="python-e2e", version="2.3.0")
        async with Client(transport, mode=spec.get("mode", "legacy"), client_info=client_info) as client:
            tools = await client.list_tools()
            results = []
            current_step = None
            for call in spec.get("calls", []):
                arguments = {
                    key: current_step if value == "$current_step" else value
                    for key, value in call.get("arguments", {}).items()
                }
                result = await client.call_tool(call["name"], arguments)
                text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
                for line in text.splitlines():
                    if line.startswith("- Current Step ID: "):
                        current_step = line.removeprefix("- Current Step ID: ")
                results.append({"isError": bool(result.is_error), "text": text})
            info = client.server_info
            return {
                "protocol_version": client.protocol_version,
                "server": info.name if info else None,
                "tools": [tool.name for tool in tools.tools],
                "results": results,
            }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
