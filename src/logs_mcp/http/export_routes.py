"""REST routes for log exports: create (201, the job runs in the background), status, and the file."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from logs_mcp.errors import InvalidInput
from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.logs.discovery_models import parse_request
from logs_mcp.logs.export import ExportObject, ExportRequest

router = APIRouter(prefix="/api/projects/{project_id}/logs", tags=["logs"])
ExportId = Annotated[int, Path(ge=1)]


@router.post("/export", response_model=ExportObject, status_code=201)
@router.post("/export/", response_model=ExportObject, status_code=201, include_in_schema=False)
async def export_create(project_id: ReadProject, services: ServicesDep, request: Request) -> ExportObject:
    """Start exporting the rows a query matches to a file (CSV by default; export_format
    application/jsonl or application/vnd.apache.parquet); poll the export, then GET its content."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise InvalidInput('The body is not JSON; send {"query": {...}}.', attr="query") from None
    if not isinstance(body, dict):
        raise InvalidInput('The body must be an object: {"query": {...}}.', attr="query")
    export = parse_request(ExportRequest, body)
    return await run_in_threadpool(services.exports.create, project_id, export)


@router.get("/exports/{export_id}", response_model=ExportObject)
@router.get("/exports/{export_id}/", response_model=ExportObject, include_in_schema=False)
async def export_retrieve(
    project_id: ReadProject, services: ServicesDep, export_id: ExportId
) -> ExportObject:
    """The export's status; has_content turns true when its file is ready."""
    return await run_in_threadpool(services.exports.get, project_id, export_id)


@router.get("/exports/{export_id}/content", response_class=FileResponse)
@router.get("/exports/{export_id}/content/", response_class=FileResponse, include_in_schema=False)
async def export_content(project_id: ReadProject, services: ServicesDep, export_id: ExportId) -> FileResponse:
    """The exported file, streamed; 409 while the export still runs or if it failed."""
    path, export = await run_in_threadpool(services.exports.content, project_id, export_id)
    return FileResponse(path, media_type=export.export_format, filename=export.filename)
