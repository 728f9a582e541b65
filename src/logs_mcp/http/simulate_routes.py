"""REST routes that replay a draft alert over history: ``POST …/logs/alerts/simulate/`` (alerts.md §5) and
``POST …/logs/alerts/suggest-threshold/``. Both read logs and write nothing, so ``logs:read`` suffices.

Bodies reach the service as plain JSON objects, so REST and MCP answer bad input with the same messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from logs_mcp.alerts.simulate_models import (
    SimulateRequest,
    SimulationResponse,
    SuggestThresholdRequest,
    SuggestThresholdResponse,
)
from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.http.routing import json_object, slash_optional

router = APIRouter(prefix="/api/projects/{project_id}/logs/alerts", tags=["logs alerts"])
route = slash_optional(router)

JSON = "application/json"


Endpoint = Callable[..., Awaitable[Response]]


def _post(
    path: str, response_model: type[BaseModel], request_model: type[BaseModel]
) -> Callable[[Endpoint], Endpoint]:
    """POST ``path`` with its trailing slash (documented, as PostHog's) and without it."""
    body = {
        "requestBody": {"content": {JSON: {"schema": request_model.model_json_schema()}}, "required": True}
    }
    return route("POST", path, response_model=response_model, openapi_extra=body)


@_post("/simulate", SimulationResponse, SimulateRequest)
async def simulate_alert(request: Request, project_id: ReadProject, services: ServicesDep) -> Response:
    """Replay a draft alert over up to 30 days of history with the alert state machine: every check's
    rolling count, state, notification and reason. Read-only."""
    payload = await json_object(request)
    result = await run_in_threadpool(services.simulations.simulate, project_id, payload)
    # Serialized here, once: a 30-day replay has thousands of buckets and needs no second validation.
    return Response(result.model_dump_json(exclude_none=True), media_type=JSON)


@_post("/suggest-threshold", SuggestThresholdResponse, SuggestThresholdRequest)
async def suggest_threshold(request: Request, project_id: ReadProject, services: ServicesDep) -> Response:
    """Baseline statistics of the filters' window counts (default: the last 7 days), health flags, a
    suggested threshold_count and how often it would have fired. Read-only."""
    payload = await json_object(request)
    result = await run_in_threadpool(services.simulations.suggest_threshold, project_id, payload)
    return Response(result.model_dump_json(), media_type=JSON)
