"""MCP tool for the notification deliveries of an alert (the outbox, as ``GET …/deliveries/`` shows it)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from logs_mcp.alerts.models import DEFAULT_PAGE_SIZE
from logs_mcp.alerts.outbox import DELIVERY_STATUSES, DeliveryPage
from logs_mcp.logs.accounts import READ
from logs_mcp.services import Services
from logs_mcp.tools.alert_tools import AlertId, Limit, Offset, alerts_url
from logs_mcp.tools.annotations import READ_ONLY
from logs_mcp.tools.context import CallerResolver, tool_errors
from logs_mcp.tools.logs_tools import ProjectId

StatusFilter = Annotated[
    str | None, Field(description=f"Only deliveries in this status, one of {', '.join(DELIVERY_STATUSES)}.")
]


def register(server: MCPServer, services: Services, callers: CallerResolver) -> None:
    deliveries = services.deliveries

    @server.tool(
        name="logs-alerts-deliveries-list", title="List alert notification deliveries", annotations=READ_ONLY
    )
    @tool_errors
    def list_deliveries(
        alert_id: AlertId,
        status: StatusFilter = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        offset: Offset = 0,
        project_id: ProjectId = None,
    ) -> DeliveryPage:
        """Whether an alert's notifications reached their destinations, newest first: per notification its
        kind (firing, resolved, broken, errored), destination type, status (pending, delivering, delivered,
        dead), idempotency key, every attempt with the receiver's status code and error, and the next retry.
        Use it when a user says they never got an alert: a dead delivery names the receiver's last error."""
        chosen = callers.project(READ, project_id)
        return deliveries.list(
            chosen,
            alert_id,
            status=status or None,
            limit=limit,
            offset=offset,
            url=alerts_url(services, chosen) + f"{alert_id}/deliveries/",
        )
