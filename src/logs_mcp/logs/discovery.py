"""What is in the logs: services with their volume and errors, attribute keys, and the values of a key.

Attribute discovery reads the rollups of migration 2 (``log_attribute_keys`` for keys,
``log_attributes`` for values) when the filters are ones a rollup row carries — the window, service
and severity — and the logs table itself for any other filter (resource or log attributes, body
search, fingerprint), so every filter is honoured exactly rather than refused or ignored. The
rollups count in 10-minute buckets: their windows widen to the buckets the window touches.

Why rollups rather than direct queries over the maps: ``bench/attribute_discovery.py`` (1M rows over
24 h, 8 log and 6 resource keys per row, one a unique request id; p50 of 7 runs on the shared 2-core
dev box, whose load varies between runs by up to 2×, so read ratios more than figures)::

                                  direct over the maps   rollups
    keys, last 1 h                      32 ms             13 ms
    keys, last 24 h                    132 ms             13 ms   (mapKeys() instead of the keys
    values of user.id, 24 h            403 ms             97 ms    subcolumn: 1.6 s direct)
    value search "flag-1", 1 h          44 ms             38 ms
    value search "flag-1", 24 h        752 ms            379 ms
    one 1M-row INSERT                   19 s              38 s
    disk                                62 MB            +26 MB values, +0.2 MB keys

Direct queries grow with the rows in the window (10× more at the 10M-row benchmark: seconds per
call); the rollups grow with distinct (key, value) pairs per 10-minute bucket, and keys alone stay
tiny, so discovery stays interactive on wide windows. The price is paid at insert: the views'
GROUP BY makes a bulk insert about 2× slower (measure OTLP-sized batches with bench/ingest.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from logs_mcp.errors import InvalidInput
from logs_mcp.logs.discovery_models import (
    AttributeItem,
    AttributesRequest,
    AttributesResponse,
    AttributeType,
    DiscoveryRequest,
    ServiceSparklinePoint,
    ServicesRequest,
    ServicesResponse,
    ServicesSummary,
    ServiceStats,
    SeverityBreakdown,
    ValueItem,
    ValuesRequest,
    ValuesResponse,
)
from logs_mcp.logs.queries import pick_interval, utc
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import (
    TIMESTAMP_TYPE,
    Parameters,
    SqlFragment,
    build_where,
    group_sql,
    like_substring,
)
from logs_mcp.store.filters import LOG_COLUMNS, LogFilters, resolve_range
from logs_mcp.store.log_schema import ATTRIBUTE_BUCKET_SECONDS, ATTRIBUTE_KEYS_TABLE, ATTRIBUTES_TABLE

SERVICES_LIMIT = 10_000
SPARKLINE_SERVICES = 25
SPARKLINE_BUCKETS = 50
SPARKLINE_ROWS = 10_000
TOP_SERVICES = 5
NO_SERVICE = "(no service)"
VALUE_SEARCH_MIN_LENGTH = 4
# Columns every rollup row carries, so filters on them can be answered from the rollups.
ROLLUP_COLUMNS = frozenset({"service_name", "severity_text"})
MAP_COLUMNS: dict[AttributeType, str] = {"log": "attributes", "resource": "resource_attributes"}
FILTER_TYPES: dict[AttributeType, Any] = {"log": "log_attribute", "resource": "log_resource_attribute"}


def window(filters: LogFilters, prefix: str = "") -> tuple[datetime, datetime]:
    """The half-open UTC window of ``filters``; a bad date names its field under ``prefix``."""
    try:
        return resolve_range(filters.date_range, datetime.now(UTC))
    except InvalidInput as error:
        error.attr = f"{prefix}{error.attr}"
        raise


def key_rank(key: str, count: int, search: str) -> tuple[bool, bool, int, str]:
    """Sort key of a matched attribute key: the exact name (any case) first, then names with the search
    as one of their words (split on non-alphanumerics), then the most used, then by name."""
    needle = search.lower()
    words = re.split(r"[^a-z0-9]+", key.lower())
    return (key.lower() != needle, needle not in words, -count, key)


@dataclass(frozen=True)
class _Source:
    """Where attribute counts come from: ``FROM``/``WHERE`` plus the key, value and count expressions."""

    table: str
    key: str
    value: str
    count: str
    where: SqlFragment


class Discovery:
    def __init__(self, store: LogStore) -> None:
        self._store = store

    # --- services ----------------------------------------------------------------------------------

    def services(self, project_id: int, request: ServicesRequest) -> ServicesResponse:
        """Per-service volume and errors over the exact window, largest first, plus per-bucket counts
        of the top 25 services."""
        time_from, time_to = window(request, "query.")
        where = build_where(project_id, request, time_from, time_to)
        if request.service_name_search:
            pattern = like_substring(request.service_name_search)
            where = where.and_(
                SqlFragment("service_name ILIKE {service_search:String}", {"service_search": pattern})
            )
        logs = self._store.logs_table
        result = self._store.query(
            "SELECT service_name, log_count, error_count, debug_count, info_count, warn_count, "
            "count() OVER () AS total_services, sum(log_count) OVER () AS total_logs FROM ("
            "SELECT service_name, count() AS log_count, "
            "countIf(severity_text IN ('error', 'fatal')) AS error_count, "
            "countIf(severity_text IN ('trace', 'debug')) AS debug_count, "
            "countIf(severity_text = 'info') AS info_count, "
            "countIf(severity_text = 'warn') AS warn_count "
            f"FROM {logs} WHERE {where.sql} GROUP BY service_name) "
            f"ORDER BY log_count DESC, service_name LIMIT {SERVICES_LIMIT}",
            where.params,
        )
        rows = result.dicts()
        stats = [_service_stats(row) for row in rows]
        top_names = [row["service_name"] for row in rows[:SPARKLINE_SERVICES]]
        return ServicesResponse(
            services=stats,
            sparkline=self._service_sparkline(where, top_names, time_to - time_from),
            total_services=rows[0]["total_services"] if rows else 0,
            summary=ServicesSummary(
                top_services_count=min(TOP_SERVICES, len(stats)),
                top_services_volume_share_pct=round(sum(s.volume_share_pct for s in stats[:TOP_SERVICES]), 2),
            ),
        )

    def _service_sparkline(
        self, where: SqlFragment, services: Sequence[str], span: timedelta
    ) -> list[ServiceSparklinePoint]:
        if not services:
            return []
        seconds = pick_interval(span, SPARKLINE_BUCKETS)
        only = SqlFragment(
            "service_name IN {sparkline_services:Array(String)}", {"sparkline_services": services}
        )
        scoped = where.and_(only)
        result = self._store.query(
            f"SELECT toStartOfInterval(timestamp, INTERVAL {int(seconds)} SECOND) AS time, service_name, "
            f"count() AS count FROM {self._store.logs_table} WHERE {scoped.sql} "
            f"GROUP BY time, service_name ORDER BY time, service_name LIMIT {SPARKLINE_ROWS}",
            scoped.params,
        )
        return [
            ServiceSparklinePoint(time=utc(time), service_name=name or NO_SERVICE, count=count)
            for time, name, count in result.rows
        ]

    # --- attribute keys ----------------------------------------------------------------------------

    def attributes(self, project_id: int, request: AttributesRequest) -> AttributesResponse:
        """Keys whose name contains ``search``, ranked by :func:`key_rank`; with ``search_values`` (and
        a search of 4+ characters) then keys whose values contain it, each with its top such value."""
        key_matches = self._matching_keys(self._source(project_id, request, keys_only=True), request)
        items = [self._item(request.attribute_type, key) for key, _count in key_matches]
        end = request.offset + request.limit
        if not (request.search_values and len(request.search) >= VALUE_SEARCH_MIN_LENGTH):
            return AttributesResponse(results=items[request.offset : end], count=len(items))
        matched = {key for key, _count in key_matches}
        value_source = self._source(project_id, request, keys_only=False)
        items += [
            self._item(request.attribute_type, key, value)
            for key, value, _count in self._value_matches(value_source, request)
            if key not in matched
        ]
        page = items[request.offset : end]
        return AttributesResponse(results=page, count=request.offset + len(page))

    def _matching_keys(self, source: _Source, request: AttributesRequest) -> list[tuple[str, int]]:
        condition, params = self._key_conditions(source, request)
        result = self._store.query(
            f"SELECT {source.key} AS key, {source.count} AS count FROM {source.table} "
            f"WHERE {condition} GROUP BY key",
            params,
        )
        rows = [(key, count) for key, count in result.rows]
        return sorted(rows, key=lambda row: key_rank(row[0], row[1], request.search))

    def _value_matches(self, source: _Source, request: AttributesRequest) -> list[tuple[str, str, int]]:
        """(key, most frequent matching value, count of matching values) for keys whose values match."""
        condition, params = self._key_conditions(source, request, search_keys=False)
        params["value_search"] = like_substring(request.search)
        result = self._store.query(
            "SELECT key, argMin(value, (-count, value)) AS top_value, sum(count) AS total FROM ("
            f"SELECT {source.key} AS key, {source.value} AS value, {source.count} AS count "
            f"FROM {source.table} WHERE {condition} AND value ILIKE {{value_search:String}} "
            "GROUP BY key, value) GROUP BY key ORDER BY total DESC, key",
            params,
        )
        return [(key, value, total) for key, value, total in result.rows]

    def _key_conditions(
        self, source: _Source, request: AttributesRequest, *, search_keys: bool = True
    ) -> tuple[str, dict[str, object]]:
        parts, params = [source.where.sql], dict(source.where.params)
        if search_keys and request.search:
            parts.append("key ILIKE {key_search:String}")
            params["key_search"] = like_substring(request.search)
        if request.keys:
            parts.append("key IN {allowed_keys:Array(String)}")
            params["allowed_keys"] = request.keys
        return " AND ".join(parts), params

    @staticmethod
    def _item(attribute_type: AttributeType, key: str, value: str | None = None) -> AttributeItem:
        return AttributeItem(
            name=key,
            propertyFilterType=FILTER_TYPES[attribute_type],
            matchedOn="key" if value is None else "value",
            matchedValue=value,
        )

    # --- attribute values --------------------------------------------------------------------------

    def values(self, project_id: int, request: ValuesRequest) -> ValuesResponse:
        """Distinct values of one key containing ``value``, most frequent first, then by value."""
        source = self._source(project_id, request, keys_only=False, key=request.key)
        params: dict[str, object] = {**source.where.params, "value_search": like_substring(request.value)}
        result = self._store.query(
            f"SELECT {source.value} AS value, {source.count} AS count FROM {source.table} "
            f"WHERE {source.where.sql} AND value ILIKE {{value_search:String}} "
            f"GROUP BY value ORDER BY count DESC, value LIMIT {request.limit} OFFSET {request.offset}",
            params,
        )
        return ValuesResponse(
            results=[ValueItem(id=value, name=value, count=count) for value, count in result.rows]
        )

    # --- sources -----------------------------------------------------------------------------------

    def _source(
        self, project_id: int, request: DiscoveryRequest, *, keys_only: bool, key: str | None = None
    ) -> _Source:
        time_from, time_to = window(request)
        if _rollup_answers(request):
            return self._rollup_source(project_id, request, time_from, time_to, keys_only=keys_only, key=key)
        return self._direct_source(project_id, request, time_from, time_to, keys_only=keys_only, key=key)

    def _rollup_source(
        self,
        project_id: int,
        request: DiscoveryRequest,
        time_from: datetime,
        time_to: datetime,
        *,
        keys_only: bool,
        key: str | None,
    ) -> _Source:
        params = Parameters("r")
        parts = [
            f"project_id = {params(project_id, 'UInt64')}",
            f"attribute_type = {params(request.attribute_type, 'String')}",
            # Every bucket the window touches, from the one holding time_from on.
            f"time_bucket >= toStartOfInterval({params(time_from, TIMESTAMP_TYPE)}, "
            f"INTERVAL {ATTRIBUTE_BUCKET_SECONDS} SECOND)",
            f"time_bucket < {params(time_to, TIMESTAMP_TYPE)}",
        ]
        if request.service_names:
            parts.append(f"service_name IN {params(request.service_names, 'Array(String)')}")
        if request.severity_levels:
            parts.append(f"severity_text IN {params(request.severity_levels, 'Array(String)')}")
        group = group_sql(request.filter_group, params)
        if group is not None:
            parts.append(group)
        if key is not None:
            parts.append(f"attribute_key = {params(key, 'String')}")
        table = ATTRIBUTE_KEYS_TABLE if keys_only else ATTRIBUTES_TABLE
        return _Source(
            table=self._store.target.table(table),
            key="attribute_key",
            value="attribute_value",
            count="sum(attribute_count)",
            where=SqlFragment(" AND ".join(parts), params.values),
        )

    def _direct_source(
        self,
        project_id: int,
        request: DiscoveryRequest,
        time_from: datetime,
        time_to: datetime,
        *,
        keys_only: bool,
        key: str | None,
    ) -> _Source:
        column = MAP_COLUMNS[request.attribute_type]
        where = build_where(project_id, request, time_from, time_to)
        logs = self._store.logs_table
        if key is not None:
            where = where.and_(
                SqlFragment(f"mapContains({column}, {{value_key:String}})", {"value_key": key})
            )
            return _Source(logs, "{value_key:String}", f"{column}[{{value_key:String}}]", "count()", where)
        # ARRAY JOIN over the map's subcolumns: reading only the keys is 5× faster than mapKeys().
        joined = f"{column}.keys AS key" if keys_only else f"{column}.keys AS key, {column}.values AS value"
        return _Source(f"{logs} ARRAY JOIN {joined}", "key", "value", "count()", where)


def _rollup_answers(filters: LogFilters) -> bool:
    """Whether every filter is on a column the rollups carry (service, severity)."""
    return (
        not filters.search_term
        and filters.resource_fingerprint is None
        and all(
            leaf.type == "log" and LOG_COLUMNS[leaf.key].name in ROLLUP_COLUMNS
            for leaf in filters.filter_group.leaves()
        )
    )


def _service_stats(row: dict[str, Any]) -> ServiceStats:
    log_count, error_count = row["log_count"], row["error_count"]
    return ServiceStats(
        service_name=row["service_name"] or NO_SERVICE,
        log_count=log_count,
        error_count=error_count,
        error_rate=round(error_count / log_count, 4) if log_count else 0.0,
        severity_breakdown=SeverityBreakdown(
            debug=row["debug_count"], info=row["info_count"], warn=row["warn_count"], error=error_count
        ),
        volume_share_pct=round(100 * log_count / row["total_logs"], 2) if row["total_logs"] else 0.0,
    )
