"""REST routes under ``/api/projects/{project_id}/logs/`` (PostHog's Logs API paths and shapes)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.logs.models import HasLogsResponse

router = APIRouter(prefix="/api/projects/{project_id}/logs", tags=["logs"])


@router.get("/has_logs", response_model=HasLogsResponse)
@router.get("/has_logs/", include_in_schema=False)
async def has_logs(project_id: ReadProject, services: ServicesDep) -> HasLogsResponse:
    """Whether the project has any logs at all."""
    return await run_in_threadpool(services.queries.has_logs, project_id)
