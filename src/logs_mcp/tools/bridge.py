"""``logs-mcp stdio --server URL``: serve over stdio the tools of a running logs-mcp server.

The running server owns the embedded store, so instead of opening it this process forwards tool
listings and calls to the server's streamable HTTP endpoint with the user's API key: the same tools
answer the same way.
"""

from __future__ import annotations

from typing import Any

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from logs_mcp import __version__


async def run_stdio_bridge(server_url: str, api_key: str) -> None:
    endpoint = server_url.rstrip("/") + "/mcp"
    http_client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {api_key}"})
    async with http_client, Client(streamable_http_client(endpoint, http_client=http_client)) as remote:

        async def list_tools(_ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
            return await remote.list_tools(cursor=params.cursor if params else None)

        async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            return await remote.call_tool(params.name, params.arguments)

        server: Server[Any] = Server(
            "logs-mcp",
            version=__version__,
            instructions=remote.instructions,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
        )
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
