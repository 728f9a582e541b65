"""REST route of an alert's notification deliveries: ``GET …/alerts/{alert_id}/deliveries/`` (logs:read)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from logs_mcp.alerts.models import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from logs_mcp.alerts.outbox import Deliveries, DeliveryPage
from logs_mcp.http.auth import ReadProject, ServicesDep

router = APIRouter(prefix="/api/projects/{project_id}/logs/alerts", tags=["logs alerts"])

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]
Status = Annotated[
    Literal["pending", "delivering", "delivered", "dead"] | None, Query(description="Only this status.")
]


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
    deliveries = Deliveries(services.state_engine)
    return await run_in_threadpool(
        deliveries.list, project_id, alert_id, status=status, limit=limit, offset=offset, url=str(request.url)
    )


router.add_api_route("/{alert_id}/deliveries/", list_deliveries, methods=["GET"], response_model=DeliveryPage)
router.add_api_route(
    "/{alert_id}/deliveries",
    list_deliveries,
    methods=["GET"],
    response_model=DeliveryPage,
    include_in_schema=False,
)
