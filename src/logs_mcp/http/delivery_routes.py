"""REST route of an alert's notification deliveries: ``GET …/alerts/{alert_id}/deliveries/`` (logs:read)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from logs_mcp.alerts.models import DEFAULT_PAGE_SIZE
from logs_mcp.alerts.outbox import DeliveryPage
from logs_mcp.http.alerts_routes import Limit, Offset
from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.http.routing import slash_optional

router = APIRouter(prefix="/api/projects/{project_id}/logs/alerts", tags=["logs alerts"])
route = slash_optional(router)
Status = Annotated[
    Literal["pending", "delivering", "delivered", "dead"] | None, Query(description="Only this status.")
]


@route("GET", "/{alert_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    request: Request,
    alert_id: str,
    project_id: ReadProject,
    services: ServicesDep,
    status: Status = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
) -> DeliveryPage:
    """The alert's notifications, newest first, with every delivery attempt."""
    return await run_in_threadpool(
        services.deliveries.list,
        project_id,
        alert_id,
        status=status,
        limit=limit,
        offset=offset,
        url=str(request.url),
    )
