"""REST routes for discovery: top services (POST), attribute keys and values (GET, flat parameters with
``dateRange``, ``serviceNames``, ``filterGroup`` and ``severityLevels`` JSON-encoded)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.http.routing import query_of, query_post, slash_optional
from logs_mcp.logs.discovery_models import (
    AttributesRequest,
    AttributesResponse,
    ServicesRequest,
    ServicesResponse,
    ValuesRequest,
    ValuesResponse,
    parse_request,
)
from logs_mcp.logs.models import AGENT_FIELDS

router = APIRouter(prefix="/api/projects/{project_id}/logs", tags=["logs"])
route = slash_optional(router, documented_slash=False)
post_query = query_post(router)
REST_ONLY: dict[str, Any] = {"response_model_exclude": set(AGENT_FIELDS)}
# Flat date parameters are accepted too; a JSON dateRange wins over them.
FLAT_DATES = ("date_from", "date_to")


def query_params(request: Request) -> dict[str, Any]:
    """The query string as the request model's fields: one value per name, flat dates folded into
    ``dateRange``."""
    params: dict[str, Any] = dict(request.query_params)
    flat = {name: params.pop(name) for name in FLAT_DATES if name in params}
    if flat and "dateRange" not in params:
        params["dateRange"] = flat
    return params


Params = Annotated[dict[str, Any], Depends(query_params)]


@post_query("/services", ServicesResponse)
async def services_list(
    project_id: ReadProject,
    services: ServicesDep,
    query: Annotated[ServicesRequest, Depends(query_of(ServicesRequest))],
) -> ServicesResponse:
    """Services by log volume, with error counts and rates, severity breakdown and a sparkline."""
    return await run_in_threadpool(services.discovery.services, project_id, query)


@route("GET", "/attributes", response_model=AttributesResponse, **REST_ONLY)
async def attributes_list(
    project_id: ReadProject, services: ServicesDep, params: Params
) -> AttributesResponse:
    """Attribute keys (attribute_type log or resource), optionally searched by name or value."""
    request = parse_request(AttributesRequest, params)
    return await run_in_threadpool(services.discovery.attributes, project_id, request)


@route("GET", "/values", response_model=ValuesResponse, **REST_ONLY)
async def values_list(project_id: ReadProject, services: ServicesDep, params: Params) -> ValuesResponse:
    """Values of one attribute key, most frequent first."""
    request = parse_request(ValuesRequest, params)
    return await run_in_threadpool(services.discovery.values, project_id, request)
