"""Request and response shapes of service, attribute and value discovery, shared by MCP and REST.

The GET endpoints (attributes, values) take flat parameters; structured ones (``dateRange``,
``serviceNames``, ``filterGroup``, ``severityLevels``) arrive JSON-encoded over REST and as JSON values
over MCP. :func:`parse_request` validates either into the models here and names the failing field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from logs_mcp.errors import InvalidInput
from logs_mcp.logs.models import AgentNotes
from logs_mcp.store.discovery_sql import AttributeType as AttributeType  # shared with the faces
from logs_mcp.store.filters import MAX_STRING, LogFilters, error_field

MAX_DISCOVERY_PAGE = 100
MAX_ALLOWED_KEYS = 100
MAX_SERVICE_SEARCH = 200
# Structured GET parameters: JSON text over REST.
JSON_PARAMS = ("dateRange", "serviceNames", "filterGroup", "severityLevels")

M = TypeVar("M", bound=BaseModel)


def parse_request(model: type[M], params: Mapping[str, Any]) -> M:
    """``params`` validated as ``model``; JSON-text structured parameters are decoded first. A bad
    value is an :class:`InvalidInput` naming the parameter (never silently replaced by a default)."""
    data = dict(params)
    for name in JSON_PARAMS:
        if isinstance(data.get(name), str):
            try:
                data[name] = json.loads(data[name])
            except ValueError as error:
                raise InvalidInput(f"{name} is not valid JSON: {error}", attr=name) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = error_field(first["loc"])
        detail = f"{field} is required" if first["type"] == "missing" else first["msg"]
        raise InvalidInput(detail, attr=field or None) from None


# --- logs-services ---------------------------------------------------------------------------------


class ServicesRequest(LogFilters):
    service_name_search: str | None = Field(
        None,
        alias="serviceNameSearch",
        max_length=MAX_SERVICE_SEARCH,
        description="Case-insensitive literal substring of the service name.",
    )


class SeverityBreakdown(BaseModel):
    debug: int = Field(description="trace + debug")
    info: int
    warn: int
    error: int = Field(description="error + fatal (= error_count)")


class ServiceStats(BaseModel):
    service_name: str = Field(description='"(no service)" for logs without service.name.')
    log_count: int
    error_count: int = Field(description="Logs at severity error or fatal.")
    error_rate: float = Field(description="error_count / log_count, rounded to 4 places.")
    severity_breakdown: SeverityBreakdown
    volume_share_pct: float = Field(description="Share of all matching logs, in percent (2 places).")


class ServiceSparklinePoint(BaseModel):
    time: datetime
    service_name: str
    count: int


class ServicesSummary(BaseModel):
    top_services_count: int
    top_services_volume_share_pct: float


class ServicesResponse(AgentNotes):
    services: list[ServiceStats] = Field(description="By log_count, largest first.")
    sparkline: list[ServiceSparklinePoint] = Field(
        description="Counts per time bucket for the top 25 services; empty buckets left out."
    )
    total_services: int = Field(description="Distinct services matching, however many are listed.")
    summary: ServicesSummary


# --- logs-attributes-list --------------------------------------------------------------------------


class DiscoveryRequest(LogFilters):
    """The window and filters of a discovery call, plus paging."""

    attribute_type: AttributeType = Field(
        "log", description='"log" for log-record attributes, "resource" for service/k8s/host attributes.'
    )
    limit: int = Field(MAX_DISCOVERY_PAGE, ge=1, le=MAX_DISCOVERY_PAGE)
    offset: int = Field(0, ge=0)


class AttributesRequest(DiscoveryRequest):
    search: str = Field("", max_length=MAX_STRING, description="Case-insensitive substring of the key.")
    search_values: bool = Field(
        False, description="Also find keys whose values contain `search` (4+ characters)."
    )
    keys: list[str] = Field(
        default_factory=list,
        description=f"Only these keys (comma-separated over REST, at most {MAX_ALLOWED_KEYS}).",
    )

    @field_validator("keys", mode="before")
    @classmethod
    def _key_list(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list):
            return value
        keys = list(dict.fromkeys(key.strip() for key in value if isinstance(key, str) and key.strip()))
        if len(keys) > MAX_ALLOWED_KEYS:
            raise ValueError(f"at most {MAX_ALLOWED_KEYS} keys, got {len(keys)}")
        return keys


class AttributeItem(BaseModel):
    name: str
    propertyFilterType: Literal["log_attribute", "log_resource_attribute"]
    matchedOn: Literal["key", "value"] = "key"
    matchedValue: str | None = Field(None, description="The most frequent matching value (value matches).")

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {key: value for key, value in dumped.items() if value is not None}


class AttributesResponse(AgentNotes):
    results: list[AttributeItem]
    count: int = Field(
        description="Keys matching in all; with search_values, a lower bound (offset + this page)."
    )


# --- logs-attribute-values-list --------------------------------------------------------------------


class ValuesRequest(DiscoveryRequest):
    key: str = Field(min_length=1, max_length=MAX_STRING, description="The attribute key.")
    value: str = Field("", max_length=MAX_STRING, description="Case-insensitive substring of the value.")


class ValueItem(BaseModel):
    id: str
    name: str
    count: int


class ValuesResponse(AgentNotes):
    results: list[ValueItem] = Field(description="By count, most frequent first.")
    refreshing: bool = False
