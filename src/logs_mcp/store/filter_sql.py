"""The shared log filters as a WHERE clause of the logs table, plus the order and cursor of a page.

Pure. Every user value, attribute keys included, reaches ClickHouse as a server-side ``{name:Type}``
parameter, never as SQL text. Each leaf compiles to a never-NULL condition, so ``NOT`` of it is
exactly its complement (``is_not`` matches a missing attribute; a non-numeric value never ``gt``s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from logs_mcp.store.filters import (
    LOG_COLUMNS,
    Cursor,
    FilterGroup,
    FilterLeaf,
    LogFilters,
    LogOrder,
    Operator,
)

TIMESTAMP_TYPE = "DateTime64(6, 'UTC')"
# The time columns of the per-minute counts and the attribute rollups: bounds on them bind as this type
# (whole seconds), as a DateTime64 bound made ClickHouse convert the column, ~0.5 ms of a ~5 ms count.
WHOLE_SECONDS_TYPE = "DateTime('UTC')"
# Body searches over windows up to this long read the bodies without the text index.
TOKEN_INDEX_MIN_WINDOW = timedelta(hours=1)
MINUTE_SQL = "toStartOfMinute(timestamp)"


def order_by_sql(order: LogOrder) -> str:
    direction = "DESC" if order == "latest" else "ASC"
    return f"timestamp {direction}, uuid {direction}"


@dataclass(frozen=True)
class SqlFragment:
    """SQL text whose every value is a ``{name:Type}`` parameter bound from ``params``."""

    sql: str
    params: dict[str, object]

    def and_(self, other: SqlFragment) -> SqlFragment:
        clash = self.params.keys() & other.params.keys()
        if clash:
            raise ValueError(f"parameter names used twice: {sorted(clash)}")
        return SqlFragment(f"{self.sql} AND {other.sql}", {**self.params, **other.params})


class Parameters:
    """Hands out unique parameter placeholders: ``{p0:String}``, ``{p1:UInt64}`` …

    ``token_index`` says whether body searches of the statement may use the body text index
    (see :func:`body_contains`), ``key_index`` whether numeric attribute comparisons add the test that
    lets the attribute key bloom filter prune (see :func:`_number_sql`): conditions outside a ``WHERE``
    prune nothing, and those terms only cost there.
    """

    def __init__(self, prefix: str = "p", *, token_index: bool = True, key_index: bool = True) -> None:
        self.prefix = prefix
        self.token_index = token_index
        self.key_index = key_index
        self.values: dict[str, object] = {}

    def __call__(self, value: object, clickhouse_type: str) -> str:
        name = f"{self.prefix}{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{clickhouse_type}}}"


def cursor_predicate(order: LogOrder, cursor: Cursor, prefix: str = "cursor") -> SqlFragment:
    """Rows strictly after the cursor in ``order``, written so the timestamp bound prunes granules."""
    params = Parameters(prefix)
    moment, uuid = params(cursor.timestamp, TIMESTAMP_TYPE), params(cursor.uuid, "UUID")
    op = "<" if order == "latest" else ">"
    sql = f"(timestamp {op}= {moment} AND (timestamp {op} {moment} OR uuid {op} {uuid}))"
    return SqlFragment(sql, params.values)


def build_where(
    project_id: int,
    filters: LogFilters,
    time_from: datetime,
    time_to: datetime,
    *,
    prefix: str = "p",
    timestamp_type: str = TIMESTAMP_TYPE,
) -> SqlFragment:
    """The condition (no ``WHERE``) selecting the rows of one project in ``[from, to)`` that match.

    ``prefix`` names the parameters, so several conditions can share one statement. With filters on the
    service and severity only, the same condition selects whole minutes of ``log_minute_counts``, whose
    ``timestamp`` is the minute's start (bounds on whole minutes, ``timestamp_type`` ``WHOLE_SECONDS_TYPE``).
    """
    params = Parameters(prefix, token_index=time_to - time_from > TOKEN_INDEX_MIN_WINDOW)
    parts = [
        f"project_id = {params(project_id, 'UInt64')}",
        f"timestamp >= {params(time_from, timestamp_type)}",
        f"timestamp < {params(time_to, timestamp_type)}",
        *_filter_parts(filters, params),
    ]
    return SqlFragment(" AND ".join(parts), params.values)


def build_match(filters: LogFilters, *, prefix: str = "p") -> SqlFragment:
    """The condition selecting the rows that match the filters (``1`` for no filter), in any project and
    at any time: for a statement that bounds those once for many such conditions (and never prunes on
    them, so no text index either)."""
    params = Parameters(prefix, token_index=False, key_index=False)
    return SqlFragment(" AND ".join(_filter_parts(filters, params)) or "1", params.values)


def _filter_parts(filters: LogFilters, params: Parameters) -> list[str]:
    parts = []
    if filters.severity_levels:
        parts.append(_in("severity_text", filters.severity_levels, params))
    if filters.service_names:
        parts.append(_in("service_name", filters.service_names, params))
    if filters.resource_fingerprint is not None:
        parts.append(f"resource_fingerprint = {params(int(filters.resource_fingerprint), 'UInt64')}")
    if filters.search_term:
        parts.append(body_contains(filters.search_term, params))
    group = group_sql(filters.filter_group, params)
    if group is not None:
        parts.append(group)
    return parts


# The columns besides the time that the attribute rollups and the per-minute counts carry.
SUMMARY_COLUMNS = frozenset({"service_name", "severity_text"})


def on_summary_columns(filters: LogFilters) -> bool:
    """Whether every filter is on the service or the severity (or there is none)."""
    return (
        not filters.search_term
        and filters.resource_fingerprint is None
        and all(
            leaf.type == "log" and LOG_COLUMNS[leaf.key].name in SUMMARY_COLUMNS
            for leaf in filters.filter_group.leaves()
        )
    )


@dataclass(frozen=True)
class LogScope:
    """The rows of one project in ``[time_from, time_to)`` matching ``filters``."""

    project_id: int
    filters: LogFilters
    time_from: datetime
    time_to: datetime

    def where(self) -> SqlFragment:
        return build_where(self.project_id, self.filters, self.time_from, self.time_to)


def like_substring(term: str) -> str:
    """A LIKE pattern matching ``term`` literally anywhere: ``%``, ``_`` and ``\\`` escaped."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def body_contains(term: str, params: Parameters) -> str:
    """Case-insensitive substring of ``body``.

    ILIKE cannot use the body's ngram text index (built on lower(body)); ``hasAllTokens`` can, and for
    an ASCII term of 3+ characters it is implied by the ILIKE match, so it only prunes. It reads the
    terms' postings for whole parts, though: over a window of an hour or less (a handful of granules,
    as the key is sorted by time) it costs more than reading the bodies (docs/benchmarks.md).
    """
    condition = f"(body ILIKE {params(like_substring(term), 'String')})"
    if params.token_index and term.isascii() and len(term) >= 3:
        condition = f"(hasAllTokens(body, {params(term, 'String')}) AND {condition})"
    return condition


def _in(column: str, values: Sequence[str], params: Parameters) -> str:
    return f"{column} IN ({', '.join(params(value, 'String') for value in values)})"


def group_sql(group: FilterGroup, params: Parameters) -> str | None:
    """``None`` when the group is ignored: every member is (or there is none)."""
    parts = []
    for node in group.values:
        sql = group_sql(node, params) if isinstance(node, FilterGroup) else leaf_sql(node, params)
        if sql is not None:
            parts.append(sql)
    if not parts:
        return None
    return f"({f' {group.type} '.join(parts)})"


def leaf_sql(leaf: FilterLeaf, params: Parameters) -> str | None:
    """One leaf as a never-NULL condition; ``None`` when it is ignored (empty list value)."""
    if leaf.positive == Operator.IS_SET:
        condition = _presence_sql(leaf, params)
    elif not leaf.values:
        return None
    elif leaf.compares_numbers:
        condition = _number_sql(leaf, params)
    else:
        condition = _text_sql(leaf, params)
    return f"(NOT {condition})" if leaf.negated else condition


def _presence_sql(leaf: FilterLeaf, params: Parameters) -> str:
    if leaf.type == "log":
        column = LOG_COLUMNS[leaf.key]
        return f"notEmpty({column.name})" if column.id_bytes else f"({column.name} != '')"
    return f"mapContains({_map_name(leaf)}, {params(leaf.key, 'String')})"


def _map_name(leaf: FilterLeaf) -> str:
    return "attributes" if leaf.type == "log_attribute" else "resource_attributes"


def _number_sql(leaf: FilterLeaf, params: Parameters) -> str:
    """Numbers compare with the attribute text as Float64; text that is no number never matches.

    A missing key reads as '' (no number), so ``mapContains`` changes no answer, negated or not; it
    lets the key bloom filter skip granules without the key, which the cast hides from any index.
    """
    key = params(leaf.key, "String")
    numbers = [params(float(text), "Float64") for text in leaf.values]
    comparison = f"ifNull({_compare(f'toFloat64OrNull(attributes[{key}])', leaf.positive, numbers)}, 0)"
    return f"(mapContains(attributes, {key}) AND {comparison})" if params.key_index else comparison


def _text_sql(leaf: FilterLeaf, params: Parameters) -> str:
    if leaf.type != "log":
        target = f"{_map_name(leaf)}[{params(leaf.key, 'String')}]"
    else:
        column = LOG_COLUMNS[leaf.key]
        if column.id_bytes and leaf.positive in (Operator.EXACT, Operator.IN):
            ids = [f"unhex({params(text, 'String')})" for text in leaf.values]
            return _compare(column.name, leaf.positive, ids)
        if column.name == "body" and leaf.positive == Operator.ICONTAINS:
            return _any_of([body_contains(text, params) for text in leaf.values])
        target = f"hex({column.name})" if column.id_bytes else column.name
    if leaf.positive == Operator.ICONTAINS:
        return _any_of([f"({target} ILIKE {params(like_substring(text), 'String')})" for text in leaf.values])
    if leaf.positive == Operator.REGEX:
        return _any_of([f"match({target}, {params(text, 'String')})" for text in leaf.values])
    return _compare(target, leaf.positive, [params(text, "String") for text in leaf.values])


_COMPARISONS = {Operator.GT: ">", Operator.LT: "<", Operator.GTE: ">=", Operator.LTE: "<="}


def _compare(target: str, operator: Operator, placeholders: list[str]) -> str:
    """``target`` against already-bound values: equality as IN, ordering any-of, between a pair."""
    if operator == Operator.BETWEEN:
        low, high = placeholders
        return f"({target} BETWEEN {low} AND {high})"
    if operator in _COMPARISONS:
        return _any_of([f"({target} {_COMPARISONS[operator]} {value})" for value in placeholders])
    if len(placeholders) == 1:
        return f"({target} = {placeholders[0]})"
    return f"({target} IN ({', '.join(placeholders)}))"


def _any_of(conditions: list[str]) -> str:
    return conditions[0] if len(conditions) == 1 else f"({' OR '.join(conditions)})"
