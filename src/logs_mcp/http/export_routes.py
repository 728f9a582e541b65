"""REST routes for log exports: create (201, the job runs in the background), status, and the file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from logs_mcp.errors import InvalidInput
from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.http.routing import json_body, slash_optional
from logs_mcp.logs.discovery_models import parse_request
from logs_mcp.logs.export import ExportObject, ExportRequest

router = APIRouter(prefix="/api/projects/{project_id}/logs", tags=["logs"])
route = slash_optional(router, documented_slash=False)
ExportId = Annotated[int, Path(ge=1)]


@route("POST", "/export", response_model=ExportObject, status_code=201)
async def export_create(project_id: ReadProject, services: ServicesDep, request: Request) -> ExportObject:
    """Start exporting the rows a query matches to a file (CSV by default; export_format
    application/jsonl or application/vnd.apache.parquet); poll the export, then GET its content."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput('The body must be an object: {"query": {...}}.', attr="query")
    export = parse_request(ExportRequest, body)
    return await run_in_threadpool(services.exports.create, project_id, export)


@route("GET", "/exports/{export_id}", response_model=ExportObject)
async def export_retrieve(
    project_id: ReadProject, services: ServicesDep, export_id: ExportId
) -> ExportObject:
    """The export's status; has_content turns true when its file is ready."""
    return await run_in_threadpool(services.exports.get, project_id, export_id)


@route("GET", "/exports/{export_id}/content", response_class=FileResponse)
async def export_content(project_id: ReadProject, services: ServicesDep, export_id: ExportId) -> FileResponse:
    """The exported file, streamed; 409 while the export still runs or if it failed."""
    path, export = await run_in_threadpool(services.exports.content, project_id, export_id)
    return FileResponse(path, media_type=export.export_format, filename=export.filename)
