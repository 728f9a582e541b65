"""REST routes of log alerts under ``/api/projects/{project_id}/logs/alerts/`` (alerts.md §7).

Bodies are read as plain JSON objects and validated by the alert service, so REST and MCP answer bad input
with the same messages; the documented request schema is :class:`AlertPayload`'s.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from logs_mcp.alerts.models import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Alert,
    AlertEventPage,
    AlertPage,
    AlertPayload,
)
from logs_mcp.http.auth import ReadProject, ServicesDep, WriteProject
from logs_mcp.http.routing import json_object, slash_optional

router = APIRouter(prefix="/api/projects/{project_id}/logs/alerts", tags=["logs alerts"])
route = slash_optional(router)

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]
_ALERT_BODY = {"requestBody": {"content": {"application/json": {"schema": AlertPayload.model_json_schema()}}}}


def creator_key_id(request: Request) -> int | None:
    key_id: int | None = request.state.principal.key_id
    return key_id


@route("GET", "", response_model=AlertPage)
async def list_alerts(
    request: Request,
    project_id: ReadProject,
    services: ServicesDep,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
) -> AlertPage:
    """The project's alerts, newest first."""
    return await run_in_threadpool(
        services.alerts.list_alerts, project_id, limit=limit, offset=offset, url=str(request.url)
    )


@route("POST", "", response_model=Alert, status_code=201, openapi_extra=_ALERT_BODY)
async def create_alert(request: Request, project_id: WriteProject, services: ServicesDep) -> Alert:
    """Create an alert; ``{"enabled": false}`` saves a draft without filters."""
    payload = await json_object(request)
    return await run_in_threadpool(
        services.alerts.create, project_id, payload, created_by_key_id=creator_key_id(request)
    )


@route("GET", "/{alert_id}", response_model=Alert)
async def retrieve_alert(alert_id: str, project_id: ReadProject, services: ServicesDep) -> Alert:
    return await run_in_threadpool(services.alerts.retrieve, project_id, alert_id)


@route("PUT", "/{alert_id}", response_model=Alert, openapi_extra=_ALERT_BODY)
async def update_alert(
    request: Request, alert_id: str, project_id: WriteProject, services: ServicesDep
) -> Alert:
    """Full update: omitted fields with defaults are reset to them."""
    payload = await json_object(request)
    return await run_in_threadpool(services.alerts.update, project_id, alert_id, payload, partial=False)


@route("PATCH", "/{alert_id}", response_model=Alert, openapi_extra=_ALERT_BODY)
async def partial_update_alert(
    request: Request, alert_id: str, project_id: WriteProject, services: ServicesDep
) -> Alert:
    """Change only the given fields; ``snooze_until: null`` unsnoozes."""
    payload = await json_object(request)
    return await run_in_threadpool(services.alerts.update, project_id, alert_id, payload, partial=True)


@route("DELETE", "/{alert_id}", status_code=204, response_class=Response)
async def destroy_alert(alert_id: str, project_id: WriteProject, services: ServicesDep) -> Response:
    """Delete the alert with its events and destinations."""
    await run_in_threadpool(services.alerts.destroy, project_id, alert_id)
    return Response(status_code=204)


@route("POST", "/{alert_id}/reset", response_model=Alert)
async def reset_alert(alert_id: str, project_id: WriteProject, services: ServicesDep) -> Alert:
    """Reset a broken alert. Clears the consecutive-failure counter and schedules an immediate recheck."""
    return await run_in_threadpool(services.alerts.reset, project_id, alert_id)


@route("GET", "/{alert_id}/events", response_model=AlertEventPage)
async def list_alert_events(
    request: Request,
    alert_id: str,
    project_id: ReadProject,
    services: ServicesDep,
    kind: Annotated[str | None, Query(description="Only rows of this kind.")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
) -> AlertEventPage:
    """Event history, newest first, without quiet check rows (no error, state unchanged)."""
    return await run_in_threadpool(
        services.alerts.list_events,
        project_id,
        alert_id,
        kind=kind or None,
        limit=limit,
        offset=offset,
        url=str(request.url),
    )
