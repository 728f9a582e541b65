"""REST routes for discovery: top services (POST), attribute keys and values (GET, flat parameters with
``dateRange``, ``serviceNames``, ``filterGroup`` and ``severityLevels`` JSON-encoded)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from logs_mcp.http.auth import ReadProject, ServicesDep
from logs_mcp.http.logs_routes import QUERY_BODY, query_of
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


@router.post("/services", response_model=ServicesResponse, openapi_extra=QUERY_BODY, **REST_ONLY)
@router.post("/services/", response_model=ServicesResponse, include_in_schema=False, **REST_ONLY)
async def services_list(
    project_id: ReadProject,
    services: ServicesDep,
    query: Annotated[ServicesRequest, Depends(query_of(ServicesRequest))],
) -> ServicesResponse:
    """Services by log volume, with error counts and rates, severity breakdown and a sparkline."""
    return await run_in_threadpool(services.discovery.services, project_id, query)


@router.get("/attributes", response_model=AttributesResponse, **REST_ONLY)
@router.get("/attributes/", response_model=AttributesResponse, include_in_schema=False, **REST_ONLY)
async def attributes_list(
    project_id: ReadProject, services: ServicesDep, params: Params
) -> AttributesResponse:
    """Attribute keys (attribute_type log or resource), optionally searched by name or value."""
    request = parse_request(AttributesRequest, params)
    return await run_in_threadpool(services.discovery.attributes, project_id, request)


@router.get("/values", response_model=ValuesResponse, **REST_ONLY)
@router.get("/values/", response_model=ValuesResponse, include_in_schema=False, **REST_ONLY)
async def values_list(project_id: ReadProject, services: ServicesDep, params: Params) -> ValuesResponse:
    """Values of one attribute key, most frequent first."""
    request = parse_request(ValuesRequest, params)
    return await run_in_threadpool(services.discovery.values, project_id, request)
