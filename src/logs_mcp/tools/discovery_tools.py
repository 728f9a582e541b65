"""MCP tools for discovery (services, attribute keys, values) and exports. Thin: resolve the caller's
project, validate, call the service, keep the result inside the token budget."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from logs_mcp.logs.accounts import READ
from logs_mcp.logs.discovery_models import (
    AttributesRequest,
    AttributesResponse,
    AttributeType,
    ServicesRequest,
    ServicesResponse,
    ValuesRequest,
    ValuesResponse,
    parse_request,
)
from logs_mcp.logs.export import ExportObject, ExportRequest
from logs_mcp.services import Services
from logs_mcp.store.filters import DateRange
from logs_mcp.tools.annotations import CREATES, READ_ONLY
from logs_mcp.tools.budget import Answers, Budget, fit_list, tool_result
from logs_mcp.tools.context import CallerResolver, tool_errors
from logs_mcp.tools.logs_tools import FILTERS_HELP, ProjectId

# How long logs-export-create waits for a small export to finish before answering "running".
EXPORT_WAIT_SECONDS = 10.0
SPARKLINE_CUT_HINT = (
    "The sparkline was cut to fit the token budget: use logs-sparkline-query with "
    'sparklineBreakdownBy "service" (or narrow dateRange) for volume over time.'
)
SERVICES_CUT_HINT = "Services were cut to fit the token budget: pass serviceNameSearch to find one."
KEYS_CUT_HINT = "Keys were cut to fit the token budget: pass `search` or a smaller `limit`."
VALUES_CUT_HINT = "Values were cut to fit the token budget: pass `value` to search or a smaller `limit`."

DateRangeParam = Annotated[
    DateRange | None, Field(description="{date_from, date_to}: ISO 8601 UTC or -30M, -1h, -7d; default -1h.")
]
ServiceNamesParam = Annotated[
    list[str] | None, Field(description="Only these services (exact, case-sensitive; see logs-services).")
]
FilterGroupParam = Annotated[
    dict[str, Any] | list[dict[str, Any]] | None,
    Field(description="Filters as in query-logs: a list of {key, type, operator, value}."),
]
AttributeTypeParam = Annotated[
    AttributeType,
    Field(description='"log" (record attributes) or "resource" (service.name, k8s.*, host.* …).'),
]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size, 1–100.")]
Offset = Annotated[int, Field(ge=0, description="Items to skip, for the next page.")]


def _flat(**params: Any) -> dict[str, Any]:
    """Tool arguments as request fields, leaving out what the caller did not pass."""
    return {name: value for name, value in params.items() if value is not None}


def _discovery_fields(
    attribute_type: AttributeType,
    limit: int,
    offset: int,
    date_range: DateRange | None,
    service_names: list[str] | None,
    filter_group: dict[str, Any] | list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The arguments every discovery tool takes, as request fields."""
    return _flat(
        attribute_type=attribute_type,
        limit=limit,
        offset=offset,
        dateRange=date_range,
        serviceNames=service_names,
        filterGroup=filter_group,
    )


def register(server: MCPServer, services: Services, callers: CallerResolver) -> None:
    budget = Budget(services.settings.mcp_token_budget)
    discovery = services.discovery
    answers = Answers(budget, services.queries)

    @server.tool(name="logs-services", title="Top services", annotations=READ_ONLY)
    @tool_errors
    def logs_services(
        query: Annotated[
            ServicesRequest | None, Field(description=FILTERS_HELP + " Plus serviceNameSearch.")
        ] = None,
        project_id: ProjectId = None,
    ) -> Annotated[CallToolResult, ServicesResponse]:
        """Start here: which services logged in the window (default the last hour), largest first, each
        with log_count, error_count (error + fatal), error_rate, a severity breakdown and its share of
        volume, plus per-bucket counts for the top 25. Use the names (exact, case-sensitive) as
        serviceNames in every other tool; serviceNameSearch finds a service by part of its name. Next:
        logs-attributes-list to see what the logs of a service carry."""
        project = callers.project(READ, project_id)
        request = query or ServicesRequest()
        response = discovery.services(project, request)
        if not response.services:
            return answers.empty(response, project, request)
        response = fit_list(response, "sparkline", budget, hint=SPARKLINE_CUT_HINT)
        return tool_result(fit_list(response, "services", budget, hint=SERVICES_CUT_HINT))

    @server.tool(name="logs-attributes-list", title="List attribute keys", annotations=READ_ONLY)
    @tool_errors
    def logs_attributes_list(
        attribute_type: AttributeTypeParam = "log",
        search: Annotated[str, Field(description="Part of the key name (case-insensitive).")] = "",
        search_values: Annotated[
            bool, Field(description="Also list keys whose VALUES contain `search` (4+ characters).")
        ] = False,
        keys: Annotated[list[str] | None, Field(description="Only these keys (at most 100).")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
        # camelCase as PostHog's (and the REST query string)
        dateRange: DateRangeParam = None,
        serviceNames: ServiceNamesParam = None,
        filterGroup: FilterGroupParam = None,
        project_id: ProjectId = None,
    ) -> Annotated[CallToolResult, AttributesResponse]:
        """Attribute keys present in the window (default the last hour), most used first; an exact or
        whole-word name match on `search` ranks first. Log-record attributes by default: pass
        attribute_type "resource" for service.name, k8s.*, host.*, deployment.environment. Each item's
        propertyFilterType is the filter `type` to use in filterGroup. With search_values, keys whose
        values contain the search follow, with matchedValue. Next: logs-attribute-values-list for a
        key's values, then logs-count with a filter on it."""
        project = callers.project(READ, project_id)
        common = _discovery_fields(attribute_type, limit, offset, dateRange, serviceNames, filterGroup)
        request = parse_request(
            AttributesRequest, _flat(search=search, search_values=search_values, keys=keys, **common)
        )
        response = discovery.attributes(project, request)
        return answers.listed(response, "results", project, request, cut_hint=KEYS_CUT_HINT)

    @server.tool(name="logs-attribute-values-list", title="List attribute values", annotations=READ_ONLY)
    @tool_errors
    def logs_attribute_values_list(
        key: Annotated[str, Field(description="The attribute key, as logs-attributes-list names it.")],
        attribute_type: AttributeTypeParam = "log",
        value: Annotated[str, Field(description="Part of the value (case-insensitive).")] = "",
        limit: Limit = 100,
        offset: Offset = 0,
        dateRange: DateRangeParam = None,
        serviceNames: ServiceNamesParam = None,
        filterGroup: FilterGroupParam = None,
        project_id: ProjectId = None,
    ) -> Annotated[CallToolResult, ValuesResponse]:
        """Values one attribute key takes in the window (default the last hour), most frequent first,
        with counts: use them verbatim (case matters) as a filter value in logs-count or query-logs.
        Resource keys (service.name, k8s.*) need attribute_type "resource"."""
        project = callers.project(READ, project_id)
        common = _discovery_fields(attribute_type, limit, offset, dateRange, serviceNames, filterGroup)
        request = parse_request(ValuesRequest, _flat(key=key, value=value, **common))
        response = discovery.values(project, request)
        return answers.listed(response, "results", project, request, cut_hint=VALUES_CUT_HINT)

    @server.tool(name="logs-export-create", title="Export logs to a file", annotations=CREATES)
    @tool_errors
    def logs_export_create(
        query: Annotated[dict[str, Any], Field(description=FILTERS_HELP + " Plus orderBy and limit.")],
        columns: Annotated[list[str] | None, Field(description="Columns in file order; default all.")] = None,
        export_format: Annotated[
            str, Field(description="text/csv (default), application/jsonl or application/vnd.apache.parquet.")
        ] = "text/csv",
        project_id: ProjectId = None,
    ) -> ExportObject:
        """Export every row a query matches (up to the server's export row limit, 1,000,000 by default)
        to a CSV, JSON Lines or Parquet file, for analysis outside this conversation — never page
        through thousands of rows with query-logs. Waits up to 10 s; small exports come back complete
        (has_content true). The file is at content_url: a person or script fetches it over HTTP with
        the same API key (Authorization: Bearer); it is not returned here."""
        project = callers.project(READ, project_id)
        request = parse_request(
            ExportRequest, _flat(query=query, columns=columns, export_format=export_format)
        )
        return services.exports.create(project, request, wait_seconds=EXPORT_WAIT_SECONDS)
