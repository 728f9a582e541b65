"""The OTLP/HTTP logs receiver: ``POST /v1/logs`` (and ``/i/v1/logs``) with a project ingestion token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from logs_mcp.errors import NotAuthenticated, PayloadTooLarge
from logs_mcp.http.auth import bearer_token, services_of

router = APIRouter(tags=["otlp"])
PROTOBUF = "application/x-protobuf"


@router.post("/v1/logs")
@router.post("/i/v1/logs", include_in_schema=False)
async def receive_logs(request: Request) -> Response:
    """Store an OTLP ExportLogsServiceRequest; answers 200 only once every record is stored."""
    services = services_of(request)
    token = bearer_token(request) or request.query_params.get("token")
    if not token:
        raise NotAuthenticated("No token provided.")
    project_id = await run_in_threadpool(services.accounts.project_for_ingestion_token, token)
    if project_id is None:
        raise NotAuthenticated("Unknown ingestion token.")
    body = await _read_limited(request, services.settings.max_request_bytes)
    content_type = request.headers.get("content-type")
    await run_in_threadpool(
        services.ingest.ingest, project_id, body, content_type, request.headers.get("content-encoding")
    )
    # OTLP answers in the request's encoding; an empty ExportLogsServiceResponse is b"" in protobuf.
    if content_type and content_type.startswith("application/json"):
        return Response(b"{}", media_type="application/json")
    return Response(b"", media_type=PROTOBUF)


async def _read_limited(request: Request, limit: int) -> bytes:
    """Reads the body, refusing early when even the compressed bytes exceed the decompressed limit."""
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise PayloadTooLarge(f"The body exceeds {limit} bytes.", attr="body")
    return bytes(chunks)
