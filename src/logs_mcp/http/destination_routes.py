"""REST routes of alert destinations (alerts.md §6.3, §6.4) under
``/api/projects/{project_id}/logs/alerts/{alert_id}/destinations/``; writing needs ``logs:write``.

Bodies reach the destination service as plain JSON objects, so REST and MCP answer bad input with the same
messages. ``GET`` (ours, not PostHog's) lists the destinations with their rule ids, which the delete takes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from logs_mcp.alerts.destination_models import (
    DestinationCreated,
    DestinationDeleteRequest,
    DestinationList,
    DestinationRequest,
)
from logs_mcp.http.auth import ReadProject, ServicesDep, WriteProject
from logs_mcp.http.routing import json_object, slash_optional

router = APIRouter(prefix="/api/projects/{project_id}/logs/alerts", tags=["logs alerts"])
route = slash_optional(router)


def _body(model: type[Any]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}


@route("GET", "/{alert_id}/destinations", response_model=DestinationList)
async def list_destinations(alert_id: str, project_id: ReadProject, services: ServicesDep) -> DestinationList:
    """The alert's destinations with their notification rule ids; no secrets or tokens."""
    return await run_in_threadpool(services.destinations.list, project_id, alert_id)


@route(
    "POST",
    "/{alert_id}/destinations",
    response_model=DestinationCreated,
    status_code=201,
    openapi_extra=_body(DestinationRequest),
)
async def create_destination(
    request: Request, alert_id: str, project_id: WriteProject, services: ServicesDep
) -> DestinationCreated:
    """Create a notification destination for this alert. One HogFunction is created per alert event kind
    (firing, resolved, broken, errored) atomically."""
    payload = await json_object(request)
    return await run_in_threadpool(services.destinations.create, project_id, alert_id, payload)


@route(
    "POST",
    "/{alert_id}/destinations/delete",
    status_code=204,
    response_class=Response,
    openapi_extra=_body(DestinationDeleteRequest),
)
async def delete_destination(
    request: Request, alert_id: str, project_id: WriteProject, services: ServicesDep
) -> Response:
    """Delete a notification destination by deleting its HogFunction group atomically."""
    payload = await json_object(request)
    await run_in_threadpool(services.destinations.delete, project_id, alert_id, payload)
    return Response(status_code=204)
