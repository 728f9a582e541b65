"""Request and response shapes of simulate (alerts.md §5) and suggest-threshold, shared by REST and MCP.

Field-level errors use the alert API's DRF wording (:func:`~logs_mcp.alerts.models.invalid_input`); the
cross-field rules of §5.1 run after them, in the spec's order, in :meth:`SimulateRequest.parse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, ValidationInfo
from pydantic import field_validator as validates
from pydantic_core import PydanticCustomError

from logs_mcp.alerts.models import has_filter, invalid_input, parse_alert_filters
from logs_mcp.errors import InvalidInput
from logs_mcp.logs.models import AgentNotes
from logs_mcp.store.filters import LogFilters

MAX_CHECK_INTERVAL_MINUTES: Final = 60
FIELD_ORDER: Final = (
    "filters",
    "threshold_count",
    "threshold_operator",
    "window_minutes",
    "check_interval_minutes",
    "evaluation_periods",
    "datapoints_to_alarm",
    "cooldown_minutes",
    "date_from",
    "compare_to",
)
"""§5.1's field order: with several bad fields, the first in this order is reported (as DRF would)."""
DEFAULT_SUGGEST_DATE_FROM: Final = "-7d"
FILTER_REQUIRED: Final = "At least one filter is required (severityLevels, serviceNames, or filterGroup)."

UtcTimestamp = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]
"""§5.3 timestamps: ``2025-12-16T10:00:00+00:00`` (Python's form), not pydantic's ``Z``."""


# --- requests --------------------------------------------------------------------------------------


class RuleFields(BaseModel):
    """What a draft alert is evaluated with, and the history to replay it over."""

    model_config = ConfigDict(extra="ignore")

    filters: dict[str, Any] = Field(
        description=(
            "Which logs are counted, as an alert's filters: {severityLevels: [trace|debug|info|warn|error|"
            "fatal], serviceNames: [str], filterGroup: {type: AND|OR, values: [{type, values: [{key, "
            "operator, value, type: log|log_attribute|log_resource_attribute}]}]}}. At least one is required."
        )
    )
    window_minutes: int = Field(description="Counting window: 5, 10, 15, 30 or 60 minutes.")
    check_interval_minutes: int = Field(
        5,
        ge=1,
        description="Minutes between replayed checks (1-60, at most window_minutes); live alerts use 5.",
    )
    evaluation_periods: int = Field(1, ge=1, description="M: how many recent checks are considered (1-10).")
    datapoints_to_alarm: int = Field(
        1, ge=1, description="N: breaching checks among the last M to fire (≤ M)."
    )
    cooldown_minutes: int = Field(0, ge=0, description="Least minutes between fire/resolve notifications.")
    date_from: str = Field(
        description=(
            "Start of the replayed history, at most 30 days back: relative (-24h, -7d, -30M for minutes) or "
            "ISO 8601 (UTC when no offset). The history ends now."
        )
    )

    @validates("filters", mode="before")
    @classmethod
    def _filters(cls, value: object) -> object:
        parse_alert_filters(value)  # the shape (§1.3); it also refuses anything but an object
        if isinstance(value, Mapping) and not has_filter(value):
            raise PydanticCustomError("filters", FILTER_REQUIRED)
        return value

    @validates("window_minutes")
    @classmethod
    def _allowed_window(cls, value: int, info: ValidationInfo) -> int:
        allowed = sorted((info.context or {}).get("window_minutes", ()))
        if allowed and value not in allowed:
            raise PydanticCustomError("window", "Must be one of {allowed}.", {"allowed": str(allowed)})
        return value

    @validates("check_interval_minutes")
    @classmethod
    def _at_most_an_hour(cls, value: int) -> int:
        return _at_most(value, MAX_CHECK_INTERVAL_MINUTES)

    @validates("evaluation_periods", "datapoints_to_alarm")
    @classmethod
    def _at_most_max_periods(cls, value: int, info: ValidationInfo) -> int:
        limit = (info.context or {}).get("max_evaluation_periods")
        return value if limit is None else _at_most(value, limit)

    @property
    def log_filters(self) -> LogFilters:
        return parse_alert_filters(self.filters)

    def check_rules(self) -> None:
        """§5.1 cross-field rules, after every field passed, in the spec's order."""
        if self.check_interval_minutes > self.window_minutes:
            raise InvalidInput("Cannot exceed window_minutes.", attr="check_interval_minutes", code="invalid")
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise InvalidInput(
                "Cannot exceed evaluation_periods.", attr="datapoints_to_alarm", code="invalid"
            )

    @classmethod
    def parse(
        cls, raw: Mapping[str, Any], *, window_minutes: tuple[int, ...], max_evaluation_periods: int
    ) -> Self:
        """Validate ``raw``: the first field error worded like DRF's, then the cross-field rules."""
        if not isinstance(raw, Mapping):
            raise InvalidInput(f"Invalid data. Expected a dictionary, but got {type(raw).__name__}.")
        context = {"window_minutes": window_minutes, "max_evaluation_periods": max_evaluation_periods}
        try:
            request = cls.model_validate(raw, context=context)
        except ValidationError as error:
            first = min(error.errors(), key=lambda item: _spec_position(item["loc"]))
            raise invalid_input(first) from None
        request.check_rules()
        return request


def _spec_position(loc: tuple[int | str, ...]) -> int:
    return FIELD_ORDER.index(loc[0]) if loc and loc[0] in FIELD_ORDER else len(FIELD_ORDER)


def _at_most(value: int, limit: int) -> int:
    if value > limit:
        raise PydanticCustomError(
            "max_value", "Ensure this value is less than or equal to {limit}.", {"limit": limit}
        )
    return value


class SimulateRequest(RuleFields):
    """``POST …/alerts/simulate/`` (§5.1), plus our ``compare_to``."""

    threshold_count: int = Field(ge=1, description="Breach when the window's count is above/below this.")
    threshold_operator: Literal["above", "below"] = Field(description="Strict comparison.")
    compare_to: str | None = Field(
        None,
        description=(
            "Id of a saved alert: its configuration is replayed over the same history and summarised next "
            "to this draft's (fires, resolves, minutes firing)."
        ),
    )


class SuggestThresholdRequest(RuleFields):
    """``POST …/alerts/suggest-threshold/``: the rule fields without a threshold; a week by default."""

    threshold_operator: Literal["above", "below"] = Field(
        "above", description="above: alert on too many logs (errors); below: on too few (a silent service)."
    )
    window_minutes: int = Field(5, description="Counting window: 5, 10, 15, 30 or 60 minutes.")
    date_from: str = Field(
        DEFAULT_SUGGEST_DATE_FROM,
        description="Start of the baseline history (default -7d, at most 30 days back); it ends now.",
    )


# --- responses -------------------------------------------------------------------------------------


class SimulatedBucket(BaseModel):
    """One replayed check (§5.3): ``count`` is the rolling window count at ``timestamp``."""

    model_config = ConfigDict(from_attributes=True)  # read straight from the replay's buckets

    timestamp: UtcTimestamp
    count: int
    threshold_breached: bool
    state: str
    notification: str
    reason: str


class SimulationSummary(BaseModel):
    """What a configuration would have done over the replayed history."""

    fire_count: int = Field(description="Fire notifications sent (cooldown-suppressed ones excluded).")
    resolve_count: int = Field(description="Resolve notifications sent.")
    minutes_firing: int = Field(description="Checks that ended in the firing state × the check interval.")


class SavedAlertSummary(SimulationSummary):
    """The saved alert of ``compare_to``, replayed with its own configuration."""

    alert_id: str
    name: str
    filters: dict[str, Any]
    threshold_count: int
    threshold_operator: str
    window_minutes: int
    check_interval_minutes: int
    evaluation_periods: int
    datapoints_to_alarm: int
    cooldown_minutes: int


class SimulationComparison(BaseModel):
    saved: SavedAlertSummary
    draft: SimulationSummary


class SimulationResponse(BaseModel):
    """§5.3, plus ``comparison`` when ``compare_to`` was given (left out otherwise)."""

    buckets: list[SimulatedBucket]
    fire_count: int
    resolve_count: int
    total_buckets: int
    threshold_count: int
    threshold_operator: str
    comparison: SimulationComparison | None = None


BucketSelection = Literal["changes", "breached", "all"]


class SimulationToolResponse(SimulationResponse, AgentNotes):
    """The MCP tool's answer: §5.3 with ``buckets`` narrowed to ``shown`` so a 30-day replay fits the token
    budget; ``total_buckets`` still counts every replayed check."""

    shown: BucketSelection = Field(
        description=(
            "Which buckets are listed: changes (fires, resolves and every other state change), breached "
            "(also every breaching check) or all."
        )
    )


class BaselineStats(BaseModel):
    """The window counts a live check would have seen at every slot of the history (full windows only)."""

    windows: int = Field(description="Checks with a full window of history behind them.")
    total_logs: int = Field(description="Logs matching the filters in the history.")
    zero_share: float = Field(description="Share of windows without any log (0-1).")
    min: int
    p1: int
    p50: int
    p95: int
    p99: int
    max: int


class BaselineHealth(BaseModel):
    """Flags on the baseline; see :func:`logs_mcp.alerts.simulate.baseline_health` for the definitions."""

    empty: bool = Field(description="No log matched in the whole history.")
    sparse: bool = Field(description="Not empty, but at least half the windows hold no log (p50 = 0).")
    flat: bool = Field(description="Not sparse, and p1..p99 lie within max(2, 10% of p50): a steady stream.")
    spiky: bool = Field(description="The largest window is over 10 noise units above p50: bursts exist.")


class SuggestThresholdResponse(BaseModel):
    threshold_count: int | None = Field(description="The suggestion; null when the history is empty.")
    threshold_operator: str
    window_minutes: int
    check_interval_minutes: int
    evaluation_periods: int
    datapoints_to_alarm: int
    cooldown_minutes: int
    date_from: UtcTimestamp
    date_to: UtcTimestamp
    baseline: BaselineStats
    health: BaselineHealth
    simulation: SimulationSummary | None = Field(
        description="The suggestion replayed over the same history (null without a suggestion)."
    )
    fires_per_week: float | None = Field(description="simulation.fire_count scaled to 7 days.")
    method: str = Field(description="How the suggestion was derived, in one sentence.")
    hint: str = Field(description="What to do next.")
