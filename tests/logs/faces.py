"""The two faces of the log queries, driven the way clients drive them: REST over HTTP against the
running test server, and MCP through the SDK's in-process Client."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from logs_mcp.logs.accounts import READ, WRITE, Principal
from logs_mcp.services import Services
from logs_mcp.tools.server import build_mcp_server

TOOLS = {
    "query": "query-logs",
    "count": "logs-count",
    "count-ranges": "logs-count-ranges",
    "sparkline": "logs-sparkline-query",
}


def iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class Faces:
    services: Services
    base_url: str
    project_id: int
    api_key: str
    _servers: dict[tuple[int | None, Principal], MCPServer] = field(default_factory=dict)

    def post(
        self, endpoint: str, body: Any, *, project_id: int | None = None, key: str | None = None
    ) -> httpx.Response:
        url = f"{self.base_url}/api/projects/{project_id or self.project_id}/logs/{endpoint}"
        headers = {"Authorization": f"Bearer {key or self.api_key}"}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(url, content=content, headers={**headers, "Content-Type": "application/json"})

    def rest(self, endpoint: str, query: dict[str, Any]) -> Any:
        """The 200 body of ``POST logs/<endpoint>`` with ``{"query": query}``."""
        response = self.post(endpoint, {"query": query})
        assert response.status_code == 200, response.text
        return response.json()

    def call(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        budget: int | None = None,
        principal: Principal | None = None,
    ) -> CallToolResult:
        """One MCP tool call as the local user of this project (optionally with another token budget)."""
        local = principal or Principal(
            frozenset({READ, WRITE}), frozenset({self.project_id}), None, self.project_id
        )
        server = self._server(budget, local)

        async def run() -> CallToolResult:
            async with Client(server) as client:
                return await client.call_tool(tool, arguments)

        return anyio.run(run)

    def _server(self, budget: int | None, local: Principal) -> MCPServer:
        """Servers are reused: building one costs a third of a second."""
        if (budget, local) not in self._servers:
            services = self.services
            if budget is not None:
                settings = services.settings.model_copy(update={"mcp_token_budget": budget})
                services = dataclasses.replace(services, settings=settings)
            self._servers[(budget, local)] = build_mcp_server(
                services, local_principal=local, http_auth=False
            )
        return self._servers[(budget, local)]

    def mcp(self, endpoint: str, query: dict[str, Any], *, budget: int | None = None) -> dict[str, Any]:
        """The structured result of the tool behind ``endpoint``, checked to be no error."""
        result = self.call(TOOLS[endpoint], {"query": query}, budget=budget)
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        text = result.content[0].text  # type: ignore[union-attr]
        assert json.loads(text) == result.structured_content, "the text is the same payload, compact"
        return result.structured_content


def error_text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if block.type == "text")


def new_faces(services: Services, server_url: str, name: str) -> Faces:
    """A project of its own with a read+write key, and the faces to question it."""
    project = services.accounts.create_project(name)
    assert project.id is not None
    key = services.accounts.create_api_key([project.id], [READ, WRITE], label="test")
    return Faces(services, server_url, project.id, key.key)


both = pytest.mark.parametrize("face", ["rest", "mcp"])
