"""The one MCP server definition, served over stdio, streamable HTTP and SSE."""

from __future__ import annotations

from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from pydantic import AnyHttpUrl

from logs_mcp import __version__
from logs_mcp.logs.accounts import READ, Principal
from logs_mcp.services import Services
from logs_mcp.tools import (
    alert_tools,
    delivery_tools,
    destination_tools,
    discovery_tools,
    logs_tools,
    simulate_tools,
)
from logs_mcp.tools.context import ApiKeyVerifier, CallerResolver

INSTRUCTIONS = """\
logs-mcp searches application logs (OpenTelemetry) and manages log alerts.
Work from coarse to fine so results stay small: discover services (logs-services), then attribute keys
and values (logs-attributes-list, logs-attribute-values-list), size the question with logs-count,
locate it in time with logs-count-ranges, and only then read rows with query-logs, page by page.
Times are UTC. Dates accept ISO 8601 or relative offsets such as -1h, -30M (minutes), -7d.
"""


def build_mcp_server(services: Services, *, local_principal: Principal | None, http_auth: bool) -> MCPServer:
    """``http_auth`` makes every HTTP call present a personal API key; stdio uses ``local_principal``."""
    verifier = ApiKeyVerifier(services.accounts) if http_auth else None
    auth = None
    if http_auth:
        auth = AuthSettings(
            issuer_url=AnyHttpUrl(services.settings.base_url),
            resource_server_url=None,
            required_scopes=[READ],
            validate_token_resource=False,
        )
    server: MCPServer = MCPServer(
        "logs-mcp", version=__version__, instructions=INSTRUCTIONS, token_verifier=verifier, auth=auth
    )
    callers = CallerResolver(local_principal)
    logs_tools.register(server, services, callers)
    discovery_tools.register(server, services, callers)
    alert_tools.register(server, services, callers)
    destination_tools.register(server, services, callers)
    delivery_tools.register(server, services, callers)
    simulate_tools.register(server, services, callers)
    return server
