"""The SQL of log discovery: per-service totals and buckets, attribute keys, and the values of a key.

Attribute counts come from the rollups of migration 2 (``log_attribute_keys`` for keys,
``log_attributes`` for values) when every filter is on a column a rollup row carries (service and
severity), and from the logs table itself otherwise, so each filter is honoured exactly. The rollups
count in 10-minute buckets: their windows widen to the buckets the window touches. Why rollups at
all: the measurements are in ``logs/discovery.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import (
    WHOLE_SECONDS_TYPE,
    LogScope,
    Parameters,
    SqlFragment,
    group_sql,
    like_substring,
    on_summary_columns,
)
from logs_mcp.store.log_queries import bucket_sql, counting_parts, union_all, union_params
from logs_mcp.store.log_schema import ATTRIBUTE_BUCKET_SECONDS, ATTRIBUTE_KEYS_TABLE, ATTRIBUTES_TABLE
from logs_mcp.store.time_grid import ONE_SECOND, ceil_to_grid, floor_to_grid

AttributeType = Literal["log", "resource"]
MAP_COLUMNS: dict[AttributeType, str] = {"log": "attributes", "resource": "resource_attributes"}
ATTRIBUTE_BUCKET = timedelta(seconds=ATTRIBUTE_BUCKET_SECONDS)


@dataclass(frozen=True)
class _Source:
    """Where attribute counts come from: ``FROM``/``WHERE`` plus the key, value and count expressions."""

    table: str
    key: str
    value: str
    count: str
    where: SqlFragment


# --- services --------------------------------------------------------------------------------------


def service_volumes(
    store: LogStore, scope: LogScope, name_search: str | None, *, seconds: int, limit: int
) -> list[dict[str, Any]]:
    """Per service: ``log_count``, ``error_count`` (error, fatal), ``debug_count`` (trace, debug),
    ``info_count``, ``warn_count``, ``buckets`` ((``seconds``-wide bucket start in Unix seconds, rows)
    of its non-empty buckets, unordered), plus ``total_services`` and ``total_logs`` over all services;
    the largest ``limit`` services, then by name.

    One pass over the window, counted per (service, severity, bucket) so that the per-minute counts
    table can answer it (see :func:`~logs_mcp.store.log_queries.counting_parts`); the totals are
    sums of the buckets.
    """
    parts = []
    for part in counting_parts(store, scope, seconds):
        where = _with_search(part.where, name_search)
        parts.append(
            SqlFragment(
                f"SELECT service_name, severity_text, {bucket_sql(seconds)} AS bucket, "
                f"{part.count} AS n FROM {part.table} WHERE {where.sql} "
                "GROUP BY service_name, severity_text, bucket",
                where.params,
            )
        )
    result = store.query(
        "SELECT *, count() OVER () AS total_services, sum(log_count) OVER () AS total_logs FROM ("
        "SELECT service_name, sum(rows) AS log_count, sum(errors) AS error_count, "
        "sum(debugs) AS debug_count, sum(infos) AS info_count, sum(warns) AS warn_count, "
        "groupArray((toUnixTimestamp(bucket), rows)) AS buckets FROM ("
        "SELECT service_name, bucket, sum(n) AS rows, "
        "sumIf(n, severity_text IN ('error', 'fatal')) AS errors, "
        "sumIf(n, severity_text IN ('trace', 'debug')) AS debugs, "
        "sumIf(n, severity_text = 'info') AS infos, "
        "sumIf(n, severity_text = 'warn') AS warns "
        f"FROM ({union_all(parts)}) GROUP BY service_name, bucket) "
        "GROUP BY service_name) "
        f"ORDER BY log_count DESC, service_name LIMIT {int(limit)}",
        union_params(parts),
    )
    return result.dicts()


def _with_search(where: SqlFragment, name_search: str | None) -> SqlFragment:
    if not name_search:
        return where
    pattern = like_substring(name_search)
    return where.and_(SqlFragment("service_name ILIKE {service_search:String}", {"service_search": pattern}))


# --- attributes ------------------------------------------------------------------------------------


def matching_keys(
    store: LogStore, scope: LogScope, attribute_type: AttributeType, search: str, keys: Sequence[str]
) -> list[tuple[str, int]]:
    """(key, uses) of the keys whose name contains ``search`` (any case), among ``keys`` if any."""
    source = _source(store, scope, attribute_type, keys_only=True)
    condition, params = _key_conditions(source, keys, key_search=search)
    result = store.query(
        f"SELECT {source.key} AS key, {source.count} AS count FROM {source.table} "
        f"WHERE {condition} GROUP BY key",
        params,
    )
    return [(key, count) for key, count in result.rows]


def value_matches(
    store: LogStore, scope: LogScope, attribute_type: AttributeType, search: str, keys: Sequence[str]
) -> list[tuple[str, str, int]]:
    """(key, most frequent matching value, count of matching values) for keys whose values contain
    ``search``, most matches first, then by key."""
    source = _source(store, scope, attribute_type, keys_only=False)
    condition, params = _key_conditions(source, keys)
    params["value_search"] = like_substring(search)
    result = store.query(
        "SELECT key, argMin(value, (-count, value)) AS top_value, sum(count) AS total FROM ("
        f"SELECT {source.key} AS key, {source.value} AS value, {source.count} AS count "
        f"FROM {source.table} WHERE {condition} AND value ILIKE {{value_search:String}} "
        "GROUP BY key, value) GROUP BY key ORDER BY total DESC, key",
        params,
    )
    return [(key, value, total) for key, value, total in result.rows]


def key_values(
    store: LogStore,
    scope: LogScope,
    attribute_type: AttributeType,
    key: str,
    search: str,
    *,
    limit: int,
    offset: int,
) -> list[tuple[str, int]]:
    """(value, uses) of ``key``'s values containing ``search``, most frequent first, then by value."""
    source = _source(store, scope, attribute_type, keys_only=False, key=key)
    params: dict[str, object] = {**source.where.params, "value_search": like_substring(search)}
    result = store.query(
        f"SELECT {source.value} AS value, {source.count} AS count FROM {source.table} "
        f"WHERE {source.where.sql} AND value ILIKE {{value_search:String}} "
        f"GROUP BY value ORDER BY count DESC, value LIMIT {int(limit)} OFFSET {int(offset)}",
        params,
    )
    return [(value, count) for value, count in result.rows]


def _key_conditions(
    source: _Source, keys: Sequence[str], *, key_search: str = ""
) -> tuple[str, dict[str, object]]:
    parts, params = [source.where.sql], dict(source.where.params)
    if key_search:
        parts.append("key ILIKE {key_search:String}")
        params["key_search"] = like_substring(key_search)
    if keys:
        parts.append("key IN {allowed_keys:Array(String)}")
        params["allowed_keys"] = keys
    return " AND ".join(parts), params


# --- sources ---------------------------------------------------------------------------------------


def _source(
    store: LogStore,
    scope: LogScope,
    attribute_type: AttributeType,
    *,
    keys_only: bool,
    key: str | None = None,
) -> _Source:
    if on_summary_columns(scope.filters):
        table = store.target.table(ATTRIBUTE_KEYS_TABLE if keys_only else ATTRIBUTES_TABLE)
        return _rollup_source(table, scope, attribute_type, key)
    return _direct_source(store.logs_table, scope, attribute_type, keys_only=keys_only, key=key)


def _rollup_source(table: str, scope: LogScope, attribute_type: AttributeType, key: str | None) -> _Source:
    params = Parameters("r")
    filters = scope.filters
    parts = [
        f"project_id = {params(scope.project_id, 'UInt64')}",
        f"attribute_type = {params(attribute_type, 'String')}",
        # Every bucket the window touches, from the one holding time_from on (a whole-seconds column).
        f"time_bucket >= {params(floor_to_grid(scope.time_from, ATTRIBUTE_BUCKET), WHOLE_SECONDS_TYPE)}",
        f"time_bucket < {params(ceil_to_grid(scope.time_to, ONE_SECOND), WHOLE_SECONDS_TYPE)}",
    ]
    if filters.service_names:
        parts.append(f"service_name IN {params(filters.service_names, 'Array(String)')}")
    if filters.severity_levels:
        parts.append(f"severity_text IN {params(filters.severity_levels, 'Array(String)')}")
    group = group_sql(filters.filter_group, params)
    if group is not None:
        parts.append(group)
    if key is not None:
        parts.append(f"attribute_key = {params(key, 'String')}")
    return _Source(
        table=table,
        key="attribute_key",
        value="attribute_value",
        count="sum(attribute_count)",
        where=SqlFragment(" AND ".join(parts), params.values),
    )


def _direct_source(
    logs: str, scope: LogScope, attribute_type: AttributeType, *, keys_only: bool, key: str | None
) -> _Source:
    column = MAP_COLUMNS[attribute_type]
    where = scope.where()
    if key is not None:
        where = where.and_(SqlFragment(f"mapContains({column}, {{value_key:String}})", {"value_key": key}))
        return _Source(logs, "{value_key:String}", f"{column}[{{value_key:String}}]", "count()", where)
    # ARRAY JOIN over the map's subcolumns: reading only the keys is 5× faster than mapKeys().
    joined = f"{column}.keys AS key" if keys_only else f"{column}.keys AS key, {column}.values AS value"
    return _Source(f"{logs} ARRAY JOIN {joined}", "key", "value", "count()", where)
