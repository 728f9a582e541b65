"""What is in the logs: services with their volume and errors, attribute keys, and the values of a key.

Attribute discovery reads the rollups of migration 2 (``log_attribute_keys`` for keys,
``log_attributes`` for values) when the filters are ones a rollup row carries — the window, service
and severity — and the logs table itself for any other filter (resource or log attributes, body
search, fingerprint), so every filter is honoured exactly rather than refused or ignored. The
rollups count in 10-minute buckets: their windows widen to the buckets the window touches. The SQL,
and the choice between rollups and logs, is ``store/discovery_sql.py``; here are the window, the
ranking and the response shapes.

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
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

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
from logs_mcp.logs.queries import pick_interval
from logs_mcp.store import discovery_sql
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import LogScope
from logs_mcp.store.filters import LogFilters, resolve_range

SERVICES_LIMIT = 10_000
SPARKLINE_SERVICES = 25
SPARKLINE_BUCKETS = 50
SPARKLINE_ROWS = 10_000
TOP_SERVICES = 5
NO_SERVICE = "(no service)"
VALUE_SEARCH_MIN_LENGTH = 4
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


class Discovery:
    def __init__(self, store: LogStore) -> None:
        self._store = store

    # --- services ----------------------------------------------------------------------------------

    def services(self, project_id: int, request: ServicesRequest) -> ServicesResponse:
        """Per-service volume and errors over the exact window, largest first, plus per-bucket counts
        of the top 25 services."""
        time_from, time_to = window(request, "query.")
        scope = LogScope(project_id, request, time_from, time_to)
        seconds = pick_interval(time_to - time_from, SPARKLINE_BUCKETS)
        rows = discovery_sql.service_volumes(
            self._store, scope, request.service_name_search, seconds=seconds, limit=SERVICES_LIMIT
        )
        stats = [_service_stats(row) for row in rows]
        return ServicesResponse(
            services=stats,
            sparkline=_service_sparkline(rows[:SPARKLINE_SERVICES]),
            total_services=rows[0]["total_services"] if rows else 0,
            summary=ServicesSummary(
                top_services_count=min(TOP_SERVICES, len(stats)),
                top_services_volume_share_pct=round(sum(s.volume_share_pct for s in stats[:TOP_SERVICES]), 2),
            ),
        )

    # --- attribute keys ----------------------------------------------------------------------------

    def attributes(self, project_id: int, request: AttributesRequest) -> AttributesResponse:
        """Keys whose name contains ``search``, ranked by :func:`key_rank`; with ``search_values`` (and
        a search of 4+ characters) then keys whose values contain it, each with its top such value."""
        scope, kind = _scope(project_id, request), request.attribute_type
        key_matches = discovery_sql.matching_keys(self._store, scope, kind, request.search, request.keys)
        key_matches.sort(key=lambda row: key_rank(row[0], row[1], request.search))
        items = [_item(kind, key) for key, _count in key_matches]
        end = request.offset + request.limit
        if not (request.search_values and len(request.search) >= VALUE_SEARCH_MIN_LENGTH):
            return AttributesResponse(results=items[request.offset : end], count=len(items))
        matched = {key for key, _count in key_matches}
        value_matches = discovery_sql.value_matches(self._store, scope, kind, request.search, request.keys)
        items += [_item(kind, key, value) for key, value, _count in value_matches if key not in matched]
        page = items[request.offset : end]
        return AttributesResponse(results=page, count=request.offset + len(page))

    # --- attribute values --------------------------------------------------------------------------

    def values(self, project_id: int, request: ValuesRequest) -> ValuesResponse:
        """Distinct values of one key containing ``value``, most frequent first, then by value."""
        rows = discovery_sql.key_values(
            self._store,
            _scope(project_id, request),
            request.attribute_type,
            request.key,
            request.value,
            limit=request.limit,
            offset=request.offset,
        )
        return ValuesResponse(results=[ValueItem(id=value, name=value, count=count) for value, count in rows])


def _scope(project_id: int, request: DiscoveryRequest) -> LogScope:
    time_from, time_to = window(request)
    return LogScope(project_id, request, time_from, time_to)


def _item(attribute_type: AttributeType, key: str, value: str | None = None) -> AttributeItem:
    return AttributeItem(
        name=key,
        propertyFilterType=FILTER_TYPES[attribute_type],
        matchedOn="key" if value is None else "value",
        matchedValue=value,
    )


def _service_sparkline(rows: list[dict[str, Any]]) -> list[ServiceSparklinePoint]:
    """The buckets of these services by time, then service name; at most ``SPARKLINE_ROWS``.

    Validated as one list, bucket starts as Unix seconds (which pydantic reads as UTC): a few hundred
    points cost a third of what building each model from a datetime does."""
    buckets = sorted((time, row["service_name"], count) for row in rows for time, count in row["buckets"])
    return _SPARKLINE_POINTS.validate_python(
        [
            {"time": time, "service_name": name or NO_SERVICE, "count": count}
            for time, name, count in buckets[:SPARKLINE_ROWS]
        ]
    )


_SPARKLINE_POINTS = TypeAdapter(list[ServiceSparklinePoint])


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
