"""The shared query filters of every logs endpoint: models, date ranges and page cursors.

Pure, no I/O. Semantics follow ``shared/spec/logs-query.md`` §2: ``filter_sql`` turns these models
into a parameterized WHERE clause and ``filter_eval`` evaluates them on a row in Python, which the
tests use to cross-check the SQL. Validation errors name the field and say what is allowed.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from calendar import monthrange
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

import re2  # type: ignore[import-untyped]
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from logs_mcp.errors import InvalidInput

MAX_DEPTH = 16
MAX_NODES = 256
MAX_VALUES = 256
MAX_STRING = 1024

# DateTime64(6) cannot hold dates outside this range; resolved ranges are clamped into it.
MIN_TIMESTAMP = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

BoundedStr = Annotated[str, StringConstraints(max_length=MAX_STRING)]


# --- dates -----------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"-(\d{1,6})([hMdwmqy])(Start|End)?")
_MONTHS_PER_UNIT = {"m": 1, "q": 3, "y": 12}
_STEPS = {"M": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_DATE_HELP = (
    "use ISO 8601 (2024-05-01T12:00:00Z; without an offset it is UTC), a relative offset "
    "-{n}{unit} with unit M (minutes), h, d, w, m (months), q or y and an optional Start/End suffix "
    "(-1h, -30M, -7d, -1mStart), 'now' or 'all'"
)


def parse_date(text: str, now: datetime) -> datetime:
    """One date string of a ``dateRange`` as an aware UTC datetime; ``ValueError`` says what is allowed."""
    value = text.strip()
    if value == "now":
        return now
    if value == "all":
        return MIN_TIMESTAMP
    relative = _RELATIVE.fullmatch(value)
    if relative:
        amount, unit, snap = relative.groups()
        try:
            return _snap(_shift(now, -int(amount), unit), unit, snap)
        except (OverflowError, ValueError):
            raise ValueError(f"{text!r} reaches too far back") from None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: {_DATE_HELP}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit in _MONTHS_PER_UNIT:
        return _add_months(moment, amount * _MONTHS_PER_UNIT[unit])
    return moment + amount * _STEPS[unit]


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _snap(moment: datetime, unit: str, snap: str | None) -> datetime:
    """``Start`` truncates to the unit; ``End`` is the start of the next one (ranges are half-open)."""
    if snap is None:
        return moment
    start = moment.replace(second=0, microsecond=0)
    if unit != "M":
        start = start.replace(minute=0)
    if unit not in ("M", "h"):
        start = start.replace(hour=0)
    if unit == "w":
        start -= timedelta(days=start.weekday())
    if unit in _MONTHS_PER_UNIT:
        first_month = (start.month - 1) // _MONTHS_PER_UNIT[unit] * _MONTHS_PER_UNIT[unit] + 1
        start = start.replace(month=first_month, day=1)
    return start if snap == "Start" else _shift(start, 1, unit)


class DateRange(BaseModel):
    """``date_from`` inclusive (default ``-1h``), ``date_to`` exclusive (default now)."""

    model_config = ConfigDict(extra="forbid")

    date_from: str | None = "-1h"
    date_to: str | None = None
    explicitDate: bool | None = None  # PostHog's flag; accepted for compatibility, ranges are always exact

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        return value.isoformat() if isinstance(value, datetime) else value

    @field_validator("date_from", "date_to")
    @classmethod
    def _parseable(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        now = datetime.now(UTC)
        try:
            moment = parse_date(value, now)
            if info.field_name == "date_to" and info.data.get("date_from"):
                _check_order(parse_date(info.data["date_from"], now), moment)
        except ValueError as error:
            raise PydanticCustomError("date", str(error)) from None
        return value


def resolve_range(date_range: DateRange, now: datetime) -> tuple[datetime, datetime]:
    """The half-open ``[from, to)`` a range means at ``now``; relative offsets are exact, not truncated."""
    start = _resolve_bound(date_range.date_from or "-1h", now, "dateRange.date_from")
    end = _resolve_bound(date_range.date_to, now, "dateRange.date_to") if date_range.date_to else now
    try:
        _check_order(start, end)
    except ValueError as error:
        raise InvalidInput(str(error), attr="dateRange.date_to") from None
    return _clamp(start), _clamp(end)


def _check_order(start: datetime, end: datetime) -> None:
    if end < start:
        raise ValueError(
            f"date_to ({end.isoformat()}) is before date_from ({start.isoformat()}); "
            "it must be at or after date_from"
        )


def _resolve_bound(text: str, now: datetime, attr: str) -> datetime:
    try:
        return parse_date(text, now)
    except ValueError as error:
        raise InvalidInput(str(error), attr=attr) from None


def _clamp(moment: datetime) -> datetime:
    return min(max(moment, MIN_TIMESTAMP), MAX_TIMESTAMP)


# --- filter leaves ---------------------------------------------------------------------------------


class Operator(StrEnum):
    EXACT = "exact"
    IS_NOT = "is_not"
    ICONTAINS = "icontains"
    NOT_ICONTAINS = "not_icontains"
    REGEX = "regex"
    NOT_REGEX = "not_regex"
    GT = "gt"
    LT = "lt"
    GTE = "gte"
    LTE = "lte"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"
    IN = "in"
    NOT_IN = "not_in"
    BETWEEN = "between"
    NOT_BETWEEN = "not_between"


OPERATOR_ALIASES = {
    "is_date_exact": Operator.EXACT,
    "is_date_after": Operator.GT,
    "is_date_before": Operator.LT,
}
# A negative operator matches exactly the rows its positive twin does not (list values: none of them).
NEGATED = {
    Operator.IS_NOT: Operator.EXACT,
    Operator.NOT_ICONTAINS: Operator.ICONTAINS,
    Operator.NOT_REGEX: Operator.REGEX,
    Operator.IS_NOT_SET: Operator.IS_SET,
    Operator.NOT_IN: Operator.IN,
    Operator.NOT_BETWEEN: Operator.BETWEEN,
}
NUMERIC_OPERATORS = frozenset(
    {Operator.EXACT, Operator.IN, Operator.GT, Operator.LT, Operator.GTE, Operator.LTE, Operator.BETWEEN}
)
ORDERING_OPERATORS = frozenset({Operator.GT, Operator.LT, Operator.GTE, Operator.LTE, Operator.BETWEEN})
PRESENCE_OPERATORS = frozenset({Operator.IS_SET, Operator.IS_NOT_SET})
OPERATOR_NAMES = (*(operator.value for operator in Operator), *OPERATOR_ALIASES)

FilterType = Literal["log", "log_attribute", "log_resource_attribute"]
FilterScalar = str | int | float | bool
FilterValue = FilterScalar | list[FilterScalar] | None
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class LogColumn:
    """A top-level column a ``log`` filter may name; ``id_bytes`` > 0 marks a raw-bytes id shown as hex."""

    name: str
    id_bytes: int = 0


LOG_COLUMNS = {
    "message": LogColumn("body"),
    "body": LogColumn("body"),
    "trace_id": LogColumn("trace_id", 16),
    "span_id": LogColumn("span_id", 8),
    "severity_level": LogColumn("severity_text"),
    "severity_text": LogColumn("severity_text"),
    "service_name": LogColumn("service_name"),
    "event_name": LogColumn("event_name"),
    "instrumentation_scope": LogColumn("instrumentation_scope"),
}


def value_text(value: FilterScalar) -> str:
    """The text a value is compared as: attribute values are stored as text ("42", "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_number(text: str) -> bool:
    return NUMBER.fullmatch(text) is not None and math.isfinite(float(text))


class FilterLeaf(BaseModel):
    """One condition: ``{key, type, operator, value}``; a list value means any-of (none-of if negative).

    Fields validate in order (type, key, operator, value) so each check can name its own field.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: FilterType
    key: Annotated[str, StringConstraints(min_length=1, max_length=MAX_STRING)]
    operator: Operator
    value: FilterValue = Field(default=None, validate_default=True)

    @field_validator("key")
    @classmethod
    def _known_column(cls, key: str, info: ValidationInfo) -> str:
        if info.data.get("type") == "log" and key not in LOG_COLUMNS:
            raise _leaf_error(f"unknown log column {key!r}; allowed: {', '.join(LOG_COLUMNS)}")
        return key

    @field_validator("operator", mode="before")
    @classmethod
    def _known_operator(cls, value: object) -> object:
        if isinstance(value, str) and value in OPERATOR_NAMES:
            return OPERATOR_ALIASES.get(value, value)
        allowed = ", ".join(OPERATOR_NAMES)
        raise PydanticCustomError("operator", f"unknown operator {value!r}; allowed: {allowed}")

    @field_validator("operator")
    @classmethod
    def _applies_to_column(cls, operator: Operator, info: ValidationInfo) -> Operator:
        column = LOG_COLUMNS.get(info.data.get("key", "")) if info.data.get("type") == "log" else None
        if column and column.id_bytes and NEGATED.get(operator, operator) in ORDERING_OPERATORS:
            raise _leaf_error(f"operator {operator.value} does not apply to {info.data['key']}")
        return operator

    @field_validator("value")
    @classmethod
    def _fits_operator(cls, value: FilterValue, info: ValidationInfo) -> FilterValue:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and len(item) > MAX_STRING:
                raise _leaf_error(f"a value is longer than {MAX_STRING} characters")
            if isinstance(item, float) and not math.isfinite(item):
                raise _leaf_error("numbers must be finite")
        operator = info.data.get("operator")
        if operator is None or operator in PRESENCE_OPERATORS:
            return value
        if value is None:
            raise _leaf_error(f"operator {operator.value} needs a value")
        texts = _texts(value)
        positive = NEGATED.get(operator, operator)
        if positive == Operator.BETWEEN and len(texts) != 2:
            raise _leaf_error(f"operator {operator.value} needs a value [low, high] of two items")
        if positive == Operator.REGEX:
            for pattern in texts:
                check_regex(pattern)
        column = LOG_COLUMNS.get(info.data.get("key", "")) if info.data.get("type") == "log" else None
        if column and column.id_bytes and positive in (Operator.EXACT, Operator.IN):
            for text in texts:
                if not re.fullmatch(f"[0-9a-fA-F]{{{2 * column.id_bytes}}}", text):
                    raise _leaf_error(f"{text!r} is not an id of {2 * column.id_bytes} hex digits")
        return value

    @property
    def values(self) -> tuple[str, ...]:
        """The value as text, always a tuple: ``[]`` means the filter is ignored."""
        return _texts(self.value)

    @property
    def positive(self) -> Operator:
        """The operator without its negation (``not_in`` → ``in``)."""
        return NEGATED.get(self.operator, self.operator)

    @property
    def negated(self) -> bool:
        return self.operator in NEGATED

    @property
    def compares_numbers(self) -> bool:
        """Log attributes compare as numbers when every value is one (and the operator orders or equals)."""
        return (
            self.type == "log_attribute"
            and self.positive in NUMERIC_OPERATORS
            and bool(self.values)
            and all(is_number(text) for text in self.values)
        )


def _texts(value: FilterValue) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value_text(item) for item in (value if isinstance(value, list) else [value]))


def _leaf_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("filter", message)


_REGEX_OPTIONS = re2.Options()
_REGEX_OPTIONS.log_errors = False
_REGEX_OPTIONS.dot_nl = True  # as ClickHouse's match(): '.' also matches a line break


def compile_regex(pattern: str) -> Any:
    """The pattern compiled as ClickHouse's ``match()`` reads it (RE2 syntax)."""
    return re2.compile(pattern, _REGEX_OPTIONS)


def check_regex(pattern: str) -> None:
    try:
        compile_regex(pattern)
    except re2.error as error:
        reason = error.args[0].decode() if isinstance(error.args[0], bytes) else str(error.args[0])
        raise _leaf_error(
            f"invalid regular expression {pattern!r}: {reason} (RE2 syntax: no lookaround or backreferences)"
        ) from None


# --- filter groups ---------------------------------------------------------------------------------


def _node_kind(node: object) -> str:
    if isinstance(node, dict):
        return "group" if "values" in node and "key" not in node else "leaf"
    return "group" if isinstance(node, FilterGroup) else "leaf"


FilterNode = Annotated[
    Annotated["FilterGroup", Tag("group")] | Annotated[FilterLeaf, Tag("leaf")],
    Discriminator(_node_kind),
]


class FilterGroup(BaseModel):
    """Nested AND/OR groups of leaves. Leaves with an empty list and empty groups are ignored: they drop
    out of their parent group (so an OR never turns into "match everything" because of them)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["AND", "OR"] = "AND"
    values: list[FilterNode] = Field(default_factory=list)

    @field_validator("type", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def leaves(self) -> Iterator[FilterLeaf]:
        for node in self.values:
            if isinstance(node, FilterGroup):
                yield from node.leaves()
            else:
                yield node


def normalize_filter_group(raw: object) -> dict[str, Any]:
    """PostHog's accepted shapes as one canonical ``{type, values: [groups…]}`` (logs-query.md §2).

    A flat list becomes one AND group inside an AND group; bare leaves beside groups are wrapped in
    one inner group of their parent's type (so an OR of leaves stays an OR).
    """
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if raw is None or raw == [] or raw == {}:
        return {"type": "AND", "values": []}
    if isinstance(raw, list):
        return {"type": "AND", "values": [{"type": "AND", "values": raw}]}
    if not isinstance(raw, dict):
        raise PydanticCustomError(
            "filter_group", "filterGroup must be an object {type, values} or a list of filters"
        )
    if "values" not in raw:
        return normalize_filter_group([raw])
    values = raw["values"]
    if not isinstance(values, list):
        raise PydanticCustomError("filter_group", "filterGroup.values must be a list")
    leaves = [node for node in values if _node_kind(node) == "leaf"]
    if not leaves:
        return raw
    groups = [node for node in values if _node_kind(node) == "group"]
    group_type = raw.get("type", "AND")
    return {**raw, "values": [{"type": group_type, "values": leaves}, *groups]}


def check_filter_size(group: dict[str, Any]) -> None:
    """Group nesting, node and value limits, checked on the raw tree before it is parsed (never recursing)."""
    nodes = values = 0
    stack: list[tuple[object, int]] = [(group, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _size_error(f"filterGroup has more than {MAX_NODES} groups and filters")
        if not isinstance(node, dict):
            continue
        if _node_kind(node) == "group" and isinstance(node["values"], list):
            if depth > MAX_DEPTH:
                raise _size_error(f"filterGroup is nested deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in node["values"])
        else:
            value = node.get("value")
            values += len(value) if isinstance(value, list) else int(value is not None)
    if values > MAX_VALUES:
        raise _size_error(f"filterGroup has {values} values in total; at most {MAX_VALUES} are allowed")


def _size_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("filter_size", message)


def error_field(loc: Sequence[int | str]) -> str:
    """A validation error's location as the field a 400 names (``filterGroup.values.0.values.1.value``),
    without the union tags pydantic inserts after each list index."""
    kept = [
        str(part)
        for index, part in enumerate(loc)
        if not (part in ("group", "leaf") and index and isinstance(loc[index - 1], int))
    ]
    return ".".join(kept)


# --- the shared filters ----------------------------------------------------------------------------

SeverityLevel = Literal["trace", "debug", "info", "warn", "error", "fatal"]


class LogFilters(BaseModel):
    """The filter fields every logs endpoint shares (camelCase on the wire, as PostHog's)."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    date_range: DateRange = Field(default_factory=DateRange, alias="dateRange")
    severity_levels: list[SeverityLevel] = Field(default_factory=list, alias="severityLevels")
    service_names: list[BoundedStr] = Field(default_factory=list, alias="serviceNames", max_length=MAX_VALUES)
    search_term: BoundedStr | None = Field(default=None, alias="searchTerm")
    filter_group: FilterGroup = Field(default_factory=FilterGroup, alias="filterGroup")
    resource_fingerprint: str | None = Field(default=None, alias="resourceFingerprint")

    @field_validator("date_range", mode="before")
    @classmethod
    def _default_range(cls, value: object) -> object:
        return DateRange() if value is None else value

    @field_validator("severity_levels", "service_names", mode="before")
    @classmethod
    def _null_list(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("filter_group", mode="before")
    @classmethod
    def _normalized(cls, value: object) -> object:
        group = normalize_filter_group(value)
        check_filter_size(group)
        return group

    @field_validator("resource_fingerprint", mode="before")
    @classmethod
    def _fingerprint(cls, value: object) -> object:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if text is not None and not (isinstance(text, str) and text.isdigit() and int(text) < 2**64):
            raise PydanticCustomError("fingerprint", "resourceFingerprint must be an unsigned 64-bit integer")
        return text


# --- cursors ---------------------------------------------------------------------------------------

LogOrder = Literal["latest", "earliest"]


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's ``(timestamp, uuid)``, the sort key of every page."""

    timestamp: datetime
    uuid: UUID


def encode_cursor(timestamp: datetime, uuid: UUID | str) -> str:
    payload = {"timestamp": timestamp.astimezone(UTC).isoformat(), "uuid": str(uuid)}
    return base64.b64encode(json.dumps(payload).encode()).decode()


def decode_cursor(text: str) -> Cursor:
    """A ``nextCursor`` back into a :class:`Cursor`; anything else is a 400 on ``after``."""
    try:
        payload = json.loads(base64.b64decode(text.translate(str.maketrans("-_", "+/")), validate=True))
        moment = datetime.fromisoformat(payload["timestamp"])
        return Cursor(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment, UUID(payload["uuid"]))
    except (binascii.Error, ValueError, TypeError, KeyError):
        detail = "after is not a cursor: pass the previous page's nextCursor unchanged"
        raise InvalidInput(detail, attr="after") from None
