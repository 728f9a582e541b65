"""MCP tools that read logs. Thin: resolve the caller's project, validate, call the service, and keep
the result inside the token budget (``tools/budget.py``)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from logs_mcp.logs.accounts import READ
from logs_mcp.logs.models import (
    CountRangesRequest,
    CountRangesResponse,
    CountRequest,
    CountResponse,
    HasLogsResponse,
    LogRow,
    QueryLogsRequest,
    QueryLogsResponse,
    SparklineRequest,
    SparklineResponse,
)
from logs_mcp.services import Services
from logs_mcp.store.filters import encode_cursor
from logs_mcp.tools.annotations import READ_ONLY
from logs_mcp.tools.budget import Answers, Budget, compact_json, fit_list, shorten, tool_result
from logs_mcp.tools.context import CallerResolver, tool_errors

ProjectId = Annotated[
    int | None,
    Field(
        description="Project to act on. Optional when the API key (or stdio session) has a single project."
    ),
]
FILTERS_HELP = (
    "All fields optional: dateRange {date_from, date_to} (ISO 8601 UTC or relative -30M, -1h, -7d; "
    "default the last hour, date_to exclusive), serviceNames (exact, case-sensitive), severityLevels "
    "(lowercase trace|debug|info|warn|error|fatal), searchTerm (case-insensitive literal substring of the "
    "body), filterGroup (a list of {key, type: log_attribute|log_resource_attribute|log, operator, value}; "
    "operators exact, is_not, icontains, not_icontains, regex, not_regex, gt, lt, gte, lte, is_set, "
    "is_not_set, in, not_in, between, not_between; numbers compare numerically)."
)
PAGE_CUT_HINT = (
    "Rows were cut to fit the token budget: pass nextCursor as `after` to read on, or lower `limit`, "
    "keep excludeAttributes true and narrow the filters."
)
BODY_CUT_HINT = "Some long bodies were shortened to fit the token budget; filter to the row to read it alone."
LIST_CUT_HINT = "The result was cut to fit the token budget: narrow dateRange or filter by service."
# The defaults when a tool is called without `query`: everything in the last hour (dates are relative,
# resolved at each call, so one instance serves every call).
EVERYTHING_QUERY = QueryLogsRequest()
EVERYTHING_COUNT = CountRequest()
EVERYTHING_COUNT_RANGES = CountRangesRequest()
EVERYTHING_SPARKLINE = SparklineRequest()
# One row may take at most this share of the budget; longer bodies are shortened.
ROW_SHARE = 4


def register(server: MCPServer, services: Services, callers: CallerResolver) -> None:
    budget = Budget(services.settings.mcp_token_budget)
    queries = services.queries
    answers = Answers(budget, queries)

    @server.tool(name="logs-has-logs", title="Has logs", annotations=READ_ONLY)
    @tool_errors
    def has_logs(project_id: ProjectId = None) -> HasLogsResponse:
        """Whether the project has received any logs at all. Call this first when a project is new or a
        search comes back empty: false means nothing was ever ingested (check the OTLP exporter), not that
        your filters are wrong."""
        return queries.has_logs(callers.project(READ, project_id))

    @server.tool(name="query-logs", title="Query logs", annotations=READ_ONLY)
    @tool_errors
    def query_logs(
        query: Annotated[QueryLogsRequest, Field(description=FILTERS_HELP)] = EVERYTHING_QUERY,
        project_id: ProjectId = None,
    ) -> Annotated[CallToolResult, QueryLogsResponse]:
        """Read log rows, newest first (orderBy "earliest" for oldest first), one page at a time.

        Call this last: first find services (logs-services) and attribute keys/values
        (logs-attributes-list, logs-attribute-values-list), size the question with logs-count (narrow
        it when it is over ~1000), locate the interesting time with logs-count-ranges, then read rows
        with that dateRange and a serviceNames or attribute filter. limit is 1–1000 (default 100).
        When hasMore is true, pass nextCursor unchanged as `after` with the same query for the next
        page. Attribute maps are left out unless excludeAttributes is false. Results never exceed the
        token budget: `truncated` and `hint` say when rows were cut (the cursor still continues right
        after the last row returned)."""
        project = callers.project(READ, project_id)
        if query.exclude_attributes is None:
            query = query.model_copy(update={"exclude_attributes": True})
        response = queries.query_logs(project, query)
        if not response.results:
            return answers.empty(response, project, query)
        return tool_result(fit_page(response, budget))

    @server.tool(name="logs-count", title="Count logs", annotations=READ_ONLY)
    @tool_errors
    def logs_count(
        query: Annotated[CountRequest, Field(description=FILTERS_HELP)] = EVERYTHING_COUNT,
        project_id: ProjectId = None,
    ) -> Annotated[CallToolResult, CountResponse]:
        """Count the log rows matching the filters: a cheap pre-flight before reading rows. If the
        count is over ~1000, narrow the filters or the dateRange (use logs-count-ranges to see where
        the rows are) before calling query-logs."""
        project = callers.project(READ, project_id)
        response = queries.count(project, query)
        if response.count == 0:
            return answers.empty(response, project, query)
        return tool_result(response)

    @server.tool(name="logs-count-ranges", title="Count logs per time range", annotations=READ_ONLY)
    @tool_errors
    def logs_count_ranges(
        query: Annotated[
            CountRangesRequest, Field(description=FILTERS_HELP + " Plus targetBuckets.")
        ] = EVERYTHING_COUNT_RANGES,
        project_id: ProjectId = None,
    ) -> Annotated[CallToolResult, CountRangesResponse]:
        """Where in time the matching rows are: counts per bucket, the bucket width chosen from
        targetBuckets (default 10, at most 100; 10 for an overview, 20–30 for a busy window, 50+ to
        drill down). Buckets without rows are left out. Feed a bucket's date_from/date_to back as the
        dateRange of another logs-count-ranges call (drill down 3–4 levels at most) or of query-logs."""
        project = callers.project(READ, project_id)
        response = queries.count_ranges(project, query)
        return answers.listed(response, "ranges", project, query, cut_hint=LIST_CUT_HINT)

    @server.tool(name="logs-sparkline-query", title="Log volume over time", annotations=READ_ONLY)
    @tool_errors
    def logs_sparkline(
        query: Annotated[
            SparklineRequest, Field(description=FILTERS_HELP + " Plus sparklineBreakdownBy.")
        ] = EVERYTHING_SPARKLINE,
        project_id: ProjectId = None,
    ) -> Annotated[CallToolResult, SparklineResponse]:
        """Log volume over time (about 50 buckets) broken down by severity (default) or by service
        (sparklineBreakdownBy "service"): the top 10 series keep their own line, the rest are summed as
        "$$_posthog_breakdown_other_$$". Buckets without rows appear once with count 0. Good for
        spotting when errors started; use logs-count-ranges to drill into one series."""
        project = callers.project(READ, project_id)
        response = queries.sparkline(project, query)
        if not any(point.count for point in response.results):
            return answers.empty(response, project, query)
        return tool_result(fit_list(response, "results", budget, hint=LIST_CUT_HINT))


def fit_page(response: QueryLogsResponse, budget: Budget) -> QueryLogsResponse:
    """A page within ``budget``: oversized bodies shortened, then trailing rows dropped, with
    ``hasMore``/``nextCursor`` moved to continue right after the last row kept."""
    max_row = budget.chars // ROW_SHARE
    rows = [_shortened(row, max_row) for row in response.results]
    if rows != response.results:
        response = response.model_copy(update={"results": rows, "truncated": True, "hint": BODY_CUT_HINT})

    def continue_after_last(cut: QueryLogsResponse, kept: int) -> QueryLogsResponse:
        last = cut.results[kept - 1] if kept else None
        cursor = encode_cursor(last.timestamp, last.uuid) if last else response.query.after
        return cut.model_copy(update={"hasMore": True, "nextCursor": cursor})

    return fit_list(response, "results", budget, hint=PAGE_CUT_HINT, adjust=continue_after_last)


def _shortened(row: LogRow, max_chars: int) -> LogRow:
    size = len(compact_json(row))
    if size <= max_chars:
        return row
    body = shorten(row.body, max(len(row.body) - (size - max_chars), 200))
    row = row.model_copy(update={"body": body})
    if len(compact_json(row)) > max_chars:  # the attribute maps are what is big
        row = row.model_copy(update={"attributes": {}, "resource_attributes": {}})
    return row
