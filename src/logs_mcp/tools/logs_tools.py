"""MCP tools that read logs. Thin: resolve the caller's project, validate, call the service."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from logs_mcp.logs.accounts import READ
from logs_mcp.logs.models import HasLogsResponse
from logs_mcp.services import Services
from logs_mcp.tools.context import CallerResolver, tool_errors

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

ProjectId = Annotated[
    int | None,
    Field(
        description="Project to act on. Optional when the API key (or stdio session) has a single project."
    ),
]


def register(server: MCPServer, services: Services, callers: CallerResolver) -> None:
    @server.tool(name="logs-has-logs", title="Has logs", annotations=READ_ONLY)
    @tool_errors
    def has_logs(project_id: ProjectId = None) -> HasLogsResponse:
        """Whether the project has received any logs at all. Call this first when a project is new or a
        search comes back empty: false means nothing was ever ingested (check the OTLP exporter), not that
        your filters are wrong."""
        return services.queries.has_logs(callers.project(READ, project_id))
