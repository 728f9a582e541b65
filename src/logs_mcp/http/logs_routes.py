"""REST routes under ``/api/projects/{project_id}/logs/`` (PostHog's Logs API paths and shapes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from logs_mcp.errors import InvalidInput
from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.logs.models import (
    AGENT_FIELDS,
    CountRangesRequest,
    CountRangesResponse,
    CountRequest,
    CountResponse,
    HasLogsResponse,
    QueryLogsRequest,
    QueryLogsResponse,
    SparklinePoint,
    SparklineRequest,
    parse_query,
)
from logs_mcp.store.filters import LogFilters

router = APIRouter(prefix="/api/projects/{project_id}/logs", tags=["logs"])

Request_ = TypeVar("Request_", bound=LogFilters)
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
# The body is parsed by hand so a bad field is named as the client wrote it (query.dateRange.date_from).
QUERY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {"query": {"type": "object", "description": "The filters (dateRange …)."}},
                }
            }
        },
    }
}


def post_query(
    path: str, response_model: Any, exclude: frozenset[str] = AGENT_FIELDS
) -> Callable[[Endpoint], Endpoint]:
    """A POST route at ``path`` and ``path/``; the response leaves out the fields only MCP fills in."""

    def register(endpoint: Endpoint) -> Endpoint:
        options: dict[str, Any] = {"response_model": response_model, "response_model_exclude": set(exclude)}
        router.post(path, openapi_extra=QUERY_BODY, **options)(endpoint)
        router.post(f"{path}/", include_in_schema=False, **options)(endpoint)
        return endpoint

    return register


def query_of(model: type[Request_]) -> Callable[[Request], Coroutine[Any, Any, Request_]]:
    """Dependency: the body's ``query`` object as ``model``, or a 400 naming the bad field."""

    async def dependency(request: Request) -> Request_:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise InvalidInput("The body is not JSON; send {\"query\": {...}}.", attr="query") from None
        return parse_query(model, body.get("query") if isinstance(body, dict) else None)

    return dependency


@router.get("/has_logs", response_model=HasLogsResponse)
@router.get("/has_logs/", include_in_schema=False)
async def has_logs(project_id: ReadProject, services: ServicesDep) -> HasLogsResponse:
    """Whether the project has any logs at all."""
    return await run_in_threadpool(services.queries.has_logs, project_id)


@post_query("/query", QueryLogsResponse)
async def query_logs(
    project_id: ReadProject,
    services: ServicesDep,
    query: Annotated[QueryLogsRequest, Depends(query_of(QueryLogsRequest))],
) -> QueryLogsResponse:
    """One page of log rows; pass `nextCursor` back as `after` for the next page."""
    return await run_in_threadpool(services.queries.query_logs, project_id, query)


@post_query("/count", CountResponse)
async def count(
    project_id: ReadProject,
    services: ServicesDep,
    query: Annotated[CountRequest, Depends(query_of(CountRequest))],
) -> CountResponse:
    """How many log rows match."""
    return await run_in_threadpool(services.queries.count, project_id, query)


@post_query("/count-ranges", CountRangesResponse)
async def count_ranges(
    project_id: ReadProject,
    services: ServicesDep,
    query: Annotated[CountRangesRequest, Depends(query_of(CountRangesRequest))],
) -> CountRangesResponse:
    """Matching rows counted per time bucket of an adaptive width; empty buckets are left out."""
    return await run_in_threadpool(services.queries.count_ranges, project_id, query)


@post_query("/sparkline", list[SparklinePoint], exclude=frozenset())
async def sparkline(
    project_id: ReadProject,
    services: ServicesDep,
    query: Annotated[SparklineRequest, Depends(query_of(SparklineRequest))],
) -> list[SparklinePoint]:
    """Log volume per time bucket and severity (or service), as PostHog's flat list."""
    response = await run_in_threadpool(services.queries.sparkline, project_id, query)
    return response.results
