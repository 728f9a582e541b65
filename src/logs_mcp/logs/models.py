"""Request and response shapes of the log services, shared by the MCP tools and the REST API.

Requests are the body's ``query`` object (camelCase, as PostHog's). Responses carry two fields for
agents, ``truncated`` and ``hint``, which only the MCP tools fill in (REST leaves them out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, ValidationError, model_serializer

from logs_mcp.errors import InvalidInput
from logs_mcp.store.filters import DateRange, LogFilters, LogOrder, error_field

MAX_PAGE_SIZE = 1000
MAX_TARGET_BUCKETS = 100
AGENT_FIELDS = frozenset({"truncated", "hint"})


class HasLogsResponse(BaseModel):
    hasLogs: bool = Field(description="Whether the project has stored any log at all.")


class AgentNotes(BaseModel):
    """What an MCP result says about itself: whether the token budget cut it, and what to try next."""

    truncated: bool = Field(False, description="True when the token budget cut this result short.")
    hint: str | None = Field(None, description="What to try next when the result is empty or was cut.")


# --- query-logs ------------------------------------------------------------------------------------


class QueryLogsRequest(LogFilters):
    order_by: LogOrder = Field("latest", alias="orderBy", description="latest (newest first) or earliest.")
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE, description="Rows per page, 1–1000.")
    after: str | None = Field(None, max_length=1024, description="The previous page's nextCursor.")
    exclude_attributes: bool | None = Field(
        None,
        alias="excludeAttributes",
        description="Leave attributes and resource_attributes out of each row (as {}). "
        "Default false over REST, true over MCP.",
    )


class LogRow(BaseModel):
    uuid: str
    trace_id: str = Field(description="32 uppercase hex digits; all zeros when the record had none.")
    span_id: str = Field(description="16 uppercase hex digits; all zeros when the record had none.")
    body: str
    attributes: dict[str, str]
    timestamp: datetime
    observed_timestamp: datetime
    severity_text: str
    severity_number: int
    level: str
    resource_attributes: dict[str, str]
    resource_fingerprint: str
    instrumentation_scope: str
    event_name: str
    live_logs_checkpoint: datetime | None = None


class QueryLogsResponse(AgentNotes):
    query: QueryLogsRequest = Field(
        description="The query as run: dateRange is the absolute UTC window the relative dates meant."
    )
    results: list[LogRow]
    hasMore: bool
    nextCursor: str | None = Field(description="Pass as `after` to read the next page; null on the last.")
    maxExportableLogs: int
    columns: list[str] | None = None


# --- logs-count ------------------------------------------------------------------------------------


class CountRequest(LogFilters):
    pass


class CountResponse(AgentNotes):
    count: int


# --- logs-count-ranges -----------------------------------------------------------------------------


class CountRangesRequest(LogFilters):
    target_buckets: int = Field(
        10,
        alias="targetBuckets",
        description="About how many buckets to return (clamped to 1–100): 10 for an overview, "
        "20–30 for a busy window, 50+ to drill down.",
    )

    def clamped_buckets(self) -> int:
        return min(max(self.target_buckets, 1), MAX_TARGET_BUCKETS)


class CountRange(BaseModel):
    date_from: datetime = Field(description="Bucket start, inclusive.")
    date_to: datetime = Field(description="Bucket end, exclusive.")
    count: int


class CountRangesResponse(AgentNotes):
    ranges: list[CountRange] = Field(description="Buckets in time order; empty buckets are left out.")
    interval: str = Field(description="Bucket width: 30s, 5m, 2h, 1d …")


# --- logs-sparkline-query --------------------------------------------------------------------------

OTHER_BREAKDOWN = "$$_posthog_breakdown_other_$$"
NO_VALUE = "(no value)"


class SparklineRequest(LogFilters):
    breakdown_by: Literal["severity", "service"] = Field(
        "severity", alias="sparklineBreakdownBy", description="One series per severity or per service."
    )
    rank_by: Literal["count", "bytes"] = Field(
        "count", alias="sparklineRankBy", description="Which 10 series keep their own line."
    )


class SparklinePoint(BaseModel):
    """One bucket of one series; exactly one of ``severity`` / ``service`` is set."""

    time: datetime
    severity: str | None = None
    service: str | None = None
    count: int
    bytes_uncompressed: int

    @model_serializer(mode="wrap")
    def _only_set_breakdown(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {key: value for key, value in dumped.items() if value is not None}


class SparklineResponse(AgentNotes):
    results: list[SparklinePoint]
    interval: str


Request = TypeVar("Request", bound=LogFilters)


def parse_query(model: type[Request], raw: object) -> Request:
    """The ``query`` object of a body as ``model``; the first problem is a 400 naming its field
    (``query.dateRange.date_from``)."""
    if not isinstance(raw, dict):
        example = '{"query": {"dateRange": {"date_from": "-1h"}}}'
        raise InvalidInput(f"query must be an object, e.g. {example}", attr="query")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = error_field(first["loc"])
        detail = first["msg"]
        if first["type"] == "extra_forbidden" and len(first["loc"]) == 1:
            allowed = ", ".join(info.alias or name for name, info in model.model_fields.items())
            detail = f"unknown field {field!r}; allowed: {allowed}"
        raise InvalidInput(detail, attr=f"query.{field}" if field else "query") from None


def absolute_range(date_from: datetime, date_to: datetime) -> DateRange:
    return DateRange(date_from=date_from.isoformat(), date_to=date_to.isoformat())
