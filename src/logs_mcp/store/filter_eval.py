"""The shared log filters evaluated on one row in Python, with the semantics of ``filter_sql``.

The reference the generated SQL is tested against (tests/store/test_filters.py). A row is a dict of
the logs table's columns: ``attributes``/``resource_attributes`` dicts, ``trace_id``/``span_id`` raw
bytes, ``timestamp`` an aware datetime.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from logs_mcp.store.filters import (
    LOG_COLUMNS,
    FilterGroup,
    FilterLeaf,
    LogFilters,
    Operator,
    compile_regex,
)

Row = Mapping[str, Any]

# What ClickHouse's toFloat64OrNull reads as a number (no spaces, no hex, no digit separators).
_CLICKHOUSE_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE
)

_ORDERINGS: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.GT: lambda field, value: field > value,
    Operator.LT: lambda field, value: field < value,
    Operator.GTE: lambda field, value: field >= value,
    Operator.LTE: lambda field, value: field <= value,
}


def row_matches(
    row: Row, project_id: int, filters: LogFilters, time_from: datetime, time_to: datetime
) -> bool:
    """Whether ``build_where(project_id, filters, time_from, time_to)`` selects ``row``."""
    fingerprint = filters.resource_fingerprint
    return (
        row["project_id"] == project_id
        and time_from <= row["timestamp"] < time_to
        and (not filters.severity_levels or row["severity_text"] in filters.severity_levels)
        and (not filters.service_names or row["service_name"] in filters.service_names)
        and (fingerprint is None or row["resource_fingerprint"] == int(fingerprint))
        and (not filters.search_term or _contains(row["body"], filters.search_term))
        and group_matches(filters.filter_group, row) is not False
    )


def group_matches(group: FilterGroup, row: Row) -> bool | None:
    """``None`` when the group is ignored (no member that is not)."""
    results = [
        result
        for node in group.values
        if (result := group_matches(node, row) if isinstance(node, FilterGroup) else leaf_matches(node, row))
        is not None
    ]
    if not results:
        return None
    return all(results) if group.type == "AND" else any(results)


def leaf_matches(leaf: FilterLeaf, row: Row) -> bool | None:
    """``None`` when the leaf is ignored (an empty list value)."""
    if leaf.positive == Operator.IS_SET:
        result = _present(leaf, row)
    elif not leaf.values:
        return None
    elif leaf.compares_numbers:
        number = _clickhouse_float(row["attributes"].get(leaf.key, ""))
        result = number is not None and _compare(number, leaf.positive, [float(v) for v in leaf.values])
    else:
        result = _text_matches(leaf, row)
    return result != leaf.negated


def _present(leaf: FilterLeaf, row: Row) -> bool:
    if leaf.type == "log":
        column = LOG_COLUMNS[leaf.key]
        return any(row[column.name]) if column.id_bytes else row[column.name] != ""
    return leaf.key in _attribute_map(leaf, row)


def _attribute_map(leaf: FilterLeaf, row: Row) -> Mapping[str, str]:
    return row["attributes"] if leaf.type == "log_attribute" else row["resource_attributes"]  # type: ignore[no-any-return]


def _text_matches(leaf: FilterLeaf, row: Row) -> bool:
    if leaf.type != "log":
        field = _attribute_map(leaf, row).get(leaf.key, "")
    else:
        column = LOG_COLUMNS[leaf.key]
        field = row[column.name]
        if column.id_bytes:
            if leaf.positive in (Operator.EXACT, Operator.IN):
                return field in {bytes.fromhex(text) for text in leaf.values}
            field = field.hex().upper()
    if leaf.positive == Operator.ICONTAINS:
        return any(_contains(field, text) for text in leaf.values)
    if leaf.positive == Operator.REGEX:
        return any(compile_regex(text).search(field) for text in leaf.values)
    return _compare(field, leaf.positive, list(leaf.values))


def _compare(field: Any, operator: Operator, values: Sequence[Any]) -> bool:
    if operator == Operator.BETWEEN:
        low, high = values
        return bool(low <= field <= high)
    if operator in _ORDERINGS:
        return any(_ORDERINGS[operator](field, value) for value in values)
    return field in values


def _contains(field: str, term: str) -> bool:
    return term.lower() in field.lower()


def _clickhouse_float(text: str) -> float | None:
    return float(text) if _CLICKHOUSE_FLOAT.fullmatch(text) else None
