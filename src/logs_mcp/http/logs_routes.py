"""REST routes under ``/api/projects/{project_id}/logs/`` (PostHog's Logs API paths and shapes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.http.routing import query_of, query_post, slash_optional
from logs_mcp.logs.models import (
    CountRangesRequest,
    CountRangesResponse,
    CountRequest,
    CountResponse,
    HasLogsResponse,
    QueryLogsRequest,
    QueryLogsResponse,
    SparklinePoint,
    SparklineRequest,
)

router = APIRouter(prefix="/api/projects/{project_id}/logs", tags=["logs"])
route = slash_optional(router, documented_slash=False)
post_query = query_post(router)


@route("GET", "/has_logs", response_model=HasLogsResponse)
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
