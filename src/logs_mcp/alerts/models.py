"""Request and response shapes of the alert API, shared by the REST routes and the MCP tools.

Field names, defaults and error messages follow alerts.md §1 (PostHog's serializer): field-level errors use
Django REST framework's wording, so clients written against PostHog read the same ``detail`` and ``attr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from logs_mcp.alerts.state_machine import AlertState
from logs_mcp.alerts.windows import as_utc
from logs_mcp.errors import InvalidInput
from logs_mcp.store.filters import LogFilters, error_field

DEFAULT_ALERT_NAME: Final = "Untitled alert"
ALERT_FILTER_KEYS: Final = ("severityLevels", "serviceNames", "filterGroup")
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000


# --- filters ---------------------------------------------------------------------------------------


def parse_alert_filters(raw: object) -> LogFilters:
    """An alert's ``filters`` (§1.3) as the shared :class:`LogFilters` (no date range), or a
    ``PydanticCustomError`` with the spec's message."""
    if not isinstance(raw, Mapping):
        raise PydanticCustomError("filters", "Must be a JSON object.")
    for key in raw:
        if key not in ALERT_FILTER_KEYS:
            raise _shape_error(str(key), "Extra inputs are not permitted")
    try:
        return LogFilters.model_validate(dict(raw))
    except ValidationError as error:
        first = error.errors()[0]
        raise _shape_error(error_field(first["loc"]) or "filters", first["msg"]) from None


def _shape_error(location: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        "filters",
        "Invalid filters shape at `{location}`: {message}",
        {"location": location, "message": message},
    )


def has_filter(filters: Mapping[str, Any]) -> bool:
    """§1.3 "at least one filter": a key counts when its value is truthy (so does an empty filterGroup)."""
    return any(filters.get(key) for key in ALERT_FILTER_KEYS)


# --- request ---------------------------------------------------------------------------------------


class AlertPayload(BaseModel):
    """The writable fields of an alert (create, PUT and PATCH bodies). Unknown and read-only keys are ignored.

    For PATCH only the keys present count (``model_fields_set``); ``snooze_until: null`` unsnoozes.
    """

    model_config = ConfigDict(extra="ignore")

    name: str = Field(DEFAULT_ALERT_NAME, max_length=255, description="Blank becomes 'Untitled alert'.")
    enabled: bool = Field(True, description="false with empty filters saves a draft that is never checked.")
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Which logs are counted: {severityLevels: [trace|debug|info|warn|error|fatal], serviceNames: "
            "[str], filterGroup: {type: AND|OR, values: [{type, values: [{key, operator, value, type: "
            "log|log_attribute|log_resource_attribute}]}]}}. At least one is required, except in a "
            "disabled draft."
        ),
    )
    threshold_count: int = Field(100, ge=1, description="Breach when the window's count is above/below this.")
    threshold_operator: Literal["above", "below"] = Field("above", description="Strict comparison.")
    window_minutes: int = Field(5, description="Counting window: 5, 10, 15, 30 or 60 minutes.")
    evaluation_periods: int = Field(1, ge=1, description="M: how many recent checks are considered (1-10).")
    datapoints_to_alarm: int = Field(
        1, ge=1, description="N: breaching checks among the last M to fire (≤ M)."
    )
    cooldown_minutes: int = Field(0, ge=0, description="Least minutes between fire/resolve notifications.")
    snooze_until: datetime | None = Field(
        None, description="A future UTC time mutes the alert until then; null unsnoozes it."
    )

    @field_validator("name", mode="before")
    @classmethod
    def _trimmed(cls, value: object) -> object:
        return (value.strip() or DEFAULT_ALERT_NAME) if isinstance(value, str) else value

    @field_validator("filters", mode="before")
    @classmethod
    def _filters_shape(cls, value: object) -> object:
        parse_alert_filters(value)
        return value

    @field_validator("evaluation_periods", "datapoints_to_alarm")
    @classmethod
    def _at_most_max_periods(cls, value: int, info: ValidationInfo) -> int:
        limit = (info.context or {}).get("max_evaluation_periods")
        if limit is not None and value > limit:
            raise PydanticCustomError(
                "max_value", "Ensure this value is less than or equal to {limit}.", {"limit": limit}
            )
        return value

    @field_validator("snooze_until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value) if value is not None else None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], max_evaluation_periods: int) -> AlertPayload:
        """Validate ``raw``; the first error becomes an :class:`InvalidInput` worded like DRF's."""
        try:
            return cls.model_validate(raw, context={"max_evaluation_periods": max_evaluation_periods})
        except ValidationError as error:
            raise invalid_input(error.errors()[0]) from None


PUT_DEFAULTED_FIELDS: Final = frozenset(
    {
        "enabled",
        "threshold_count",
        "threshold_operator",
        "window_minutes",
        "evaluation_periods",
        "datapoints_to_alarm",
        "cooldown_minutes",
    }
)
"""§2.8: a PUT resets these to their defaults when omitted (which may itself count as a change)."""


_DATETIME_FORMATS: Final = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]"
_DRF_MESSAGES: Final = {
    "int_type": ("invalid", "A valid integer is required."),
    "int_parsing": ("invalid", "A valid integer is required."),
    "int_from_float": ("invalid", "A valid integer is required."),
    "bool_type": ("invalid", "Must be a valid boolean."),
    "bool_parsing": ("invalid", "Must be a valid boolean."),
    "string_type": ("invalid", "Not a valid string."),
    "dict_type": ("invalid", "Must be a JSON object."),
    "datetime_type": (
        "invalid",
        f"Datetime has wrong format. Use one of these formats instead: {_DATETIME_FORMATS}.",
    ),
    "datetime_parsing": (
        "invalid",
        f"Datetime has wrong format. Use one of these formats instead: {_DATETIME_FORMATS}.",
    ),
    "datetime_from_date_parsing": (
        "invalid",
        f"Datetime has wrong format. Use one of these formats instead: {_DATETIME_FORMATS}.",
    ),
}


def invalid_input(error: ErrorDetails) -> InvalidInput:
    """One pydantic error as the 400 PostHog would answer (DRF's messages and codes)."""
    attr = error_field(error["loc"]) or None
    kind, context = error["type"], error.get("ctx", {})
    if error.get("input") is None and kind not in ("missing", "filters"):
        return InvalidInput("This field may not be null.", attr=attr, code="null")
    if kind in _DRF_MESSAGES:
        code, message = _DRF_MESSAGES[kind]
        return InvalidInput(message, attr=attr, code=code)
    if kind == "greater_than_equal":
        return InvalidInput(
            f"Ensure this value is greater than or equal to {context['ge']}.", attr, "min_value"
        )
    if kind == "string_too_long":
        detail = f"Ensure this field has no more than {context['max_length']} characters."
        return InvalidInput(detail, attr=attr, code="max_length")
    if kind == "literal_error":
        return InvalidInput(f'"{error["input"]}" is not a valid choice.', attr=attr, code="invalid_choice")
    if kind == "missing":
        return InvalidInput("This field is required.", attr=attr, code="required")
    return InvalidInput(error["msg"], attr=attr, code="invalid" if kind != "max_value" else kind)


# --- responses -------------------------------------------------------------------------------------


class AlertCreator(BaseModel):
    """Who created the alert: the API key (id and label) standing in for PostHog's user; null id = local."""

    id: int | None
    label: str


class StateInterval(BaseModel):
    start: datetime
    end: datetime
    state: AlertState
    enabled: bool


class Alert(BaseModel):
    """An alert as the API returns it (§1.1, serializer order)."""

    id: UUID
    name: str
    enabled: bool
    filters: dict[str, Any]
    threshold_count: int
    threshold_operator: Literal["above", "below"]
    window_minutes: int
    check_interval_minutes: int
    state: AlertState
    evaluation_periods: int
    datapoints_to_alarm: int
    cooldown_minutes: int
    snooze_until: datetime | None
    next_check_at: datetime | None
    last_notified_at: datetime | None
    last_checked_at: datetime | None
    consecutive_failures: int
    last_error_message: str | None = Field(
        description="Message of the newest failed check, if any ever failed."
    )
    state_timeline: list[StateInterval] = Field(
        description="(state, enabled) intervals of the last 24 hours."
    )
    destination_types: list[str] = Field(description="Who is notified: [] means nobody.")
    first_enabled_at: datetime | None = Field(description="null: a draft that was never enabled.")
    created_at: datetime
    created_by: AlertCreator
    updated_at: datetime | None


class AlertEventEntry(BaseModel):
    """One row of an alert's history (§3.6); ``explanation`` quotes how a check was decided."""

    id: UUID
    created_at: datetime
    kind: str
    state_before: str
    state_after: str
    threshold_breached: bool
    result_count: int | None
    error_message: str | None
    query_duration_ms: int | None
    explanation: str | None = None


Item = TypeVar("Item", bound=BaseModel)


class Page(BaseModel, Generic[Item]):
    """PostHog's limit/offset page: ``next``/``previous`` are URLs of the neighbouring pages or null."""

    count: int
    next: str | None
    previous: str | None
    results: list[Item]

    @classmethod
    def of(cls, results: list[Item], *, count: int, limit: int, offset: int, url: str) -> Page[Item]:
        following = _page_url(url, limit, offset + limit) if offset + limit < count else None
        preceding = _page_url(url, limit, max(offset - limit, 0)) if offset > 0 else None
        return cls(count=count, next=following, previous=preceding, results=results)


def _page_url(url: str, limit: int, offset: int) -> str:
    """``url`` with ``limit``/``offset`` set (DRF drops ``offset`` when it is 0); other params are kept."""
    parts = urlsplit(url)
    params = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("limit", "offset")
    ]
    params.append(("limit", str(limit)))
    if offset:
        params.append(("offset", str(offset)))
    return urlunsplit(parts._replace(query=urlencode(params)))


AlertPage = Page[Alert]
AlertEventPage = Page[AlertEventEntry]
