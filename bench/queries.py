"""How fast the logs questions of issue 3 are answered: through our service layer, as the same SQL sent
straight to chDB, and by DuckDB over the same rows.

    .venv/bin/python bench/queries.py [--rows 10000000] [--repeat 7] [--only NAME ...]

The first run generates the rows (bench/_common.py) and builds the DuckDB copy; later runs reuse them
and reload chDB only when the table design changed. "ours" calls the service methods; every SQL statement
they send is captured and replayed through chdb's own API ("raw"), so ours/raw is what our layers cost on
top of the engine. DuckDB answers the same questions with its own idiomatic SQL over its best schema.
Each figure is the median of ``--repeat`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import chdb
import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import BIG_PROJECT, DUCKDB_FILE, PARQUET, STORE_DIR, Dataset, open_store

from logs_mcp.logs.discovery import Discovery
from logs_mcp.logs.discovery_models import AttributesRequest, ServicesRequest
from logs_mcp.logs.models import CountRangesRequest, CountRequest, QueryLogsRequest
from logs_mcp.logs.queries import LogQueries
from logs_mcp.store.clickhouse import LogStore, QueryResult

Call = tuple[str, dict[str, Any], dict[str, Any]]


class CapturingStore:
    """Records every statement the services send through ``LogStore.query``."""

    def __init__(self, store: LogStore) -> None:
        self.calls: list[Call] = []
        self._query = store.query
        store.query = self._capture  # type: ignore[method-assign]

    def _capture(
        self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> QueryResult:
        self.calls.append((sql, dict(parameters or {}), dict(settings or {})))
        return self._query(sql, parameters, settings)


class RawChdb:
    """The captured statements replayed on chdb's own connection: no clickhouse-connect, no row decoding."""

    def __init__(self) -> None:
        self._connection = chdb.connect(str((STORE_DIR / "clickhouse").resolve()))  # type: ignore[no-untyped-call]

    def run(self, calls: list[Call]) -> None:
        for sql, parameters, settings in calls:
            suffix = (
                (" SETTINGS " + ", ".join(f"{k} = {v!r}" for k, v in settings.items())) if settings else ""
            )
            params = {name: _param_text(value) for name, value in parameters.items()}
            self._connection.query(sql + suffix, "Native", params=params)


def _param_text(value: object) -> str:
    """A parameter value as ClickHouse's text format reads it."""
    if isinstance(value, datetime):  # whole seconds without a fraction: DateTime parameters take no other
        return value.strftime("%Y-%m-%d %H:%M:%S.%f" if value.microsecond else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(f"'{item}'" if isinstance(item, str) else str(item) for item in value) + "]"
    return str(value)


@dataclass(frozen=True)
class Services:
    queries: LogQueries
    discovery: Discovery


@dataclass(frozen=True)
class Question:
    name: str
    ours: Callable[[Services], Any]
    duckdb_sql: str
    # Same answer from both sides, reduced to something comparable (a count, the first uuids ...).
    ours_digest: Callable[[Any], object]
    duckdb_digest: Callable[[list[tuple[Any, ...]]], object]


def questions(dataset: Dataset) -> list[Question]:
    end = dataset.end
    day, hour = _range(end - timedelta(hours=24), end), _range(end - timedelta(hours=1), end)
    project = BIG_PROJECT
    day_start = _iso(end - timedelta(hours=24))
    where_day = f"project_id = {project} AND timestamp >= '{day_start}' AND timestamp < '{_iso(end)}'"

    def page(**fields: Any) -> Callable[[Services], Any]:
        request = QueryLogsRequest.model_validate({"dateRange": day, "limit": 100, **fields})
        return lambda services: services.queries.query_logs(project, request)

    def keys(window: dict[str, str]) -> Callable[[Services], Any]:
        request = AttributesRequest.model_validate({"dateRange": window})
        return lambda services: services.discovery.attributes(project, request)

    def duckdb_keys(start: datetime) -> str:
        return (
            "SELECT key, count(*) AS n FROM (SELECT unnest(map_keys(attributes)) AS key FROM logs "
            f"WHERE project_id = {project} AND timestamp >= '{_iso(start)}' AND timestamp < '{_iso(end)}') "
            "GROUP BY key ORDER BY n DESC, key LIMIT 100"
        )

    def latest(condition: str = "") -> str:
        # The columns a page returns (ours adds the resource fingerprint, which DuckDB does not store).
        return (
            "SELECT uuid, hex(trace_id), hex(span_id), body, timestamp, observed_timestamp, severity_text, "
            "severity_number, instrumentation_scope, event_name, attributes, resource_attributes "
            f"FROM logs WHERE {where_day} {condition} ORDER BY timestamp DESC, uuid DESC LIMIT 101"
        )

    def page_digest(response: Any) -> object:
        return [str(row.uuid) for row in response.results]

    def uuid_digest(rows: list[tuple[Any, ...]]) -> object:
        return [str(row[0]) for row in rows[:100]]

    count_request = CountRequest.model_validate(
        {
            "dateRange": day,
            "severityLevels": ["error", "fatal"],
            "serviceNames": ["checkout", "payments", "api-gateway"],
        }
    )
    services_request = ServicesRequest.model_validate({"dateRange": day})
    ranges_request = CountRangesRequest.model_validate({"dateRange": day, "targetBuckets": 24})
    status_503 = [{"key": "http.status_code", "type": "log_attribute", "operator": "exact", "value": "503"}]
    return [
        Question(
            "count: 24h, 2 severities, 3 services",
            lambda services: services.queries.count(project, count_request),
            f"SELECT count(*) FROM logs WHERE {where_day} AND severity_text IN ('error', 'fatal') "
            "AND service_name IN ('checkout', 'payments', 'api-gateway')",
            lambda response: response.count,
            lambda rows: rows[0][0],
        ),
        Question(
            "count-ranges: 24h, 1h buckets",
            lambda services: services.queries.count_ranges(project, ranges_request),
            f"SELECT time_bucket(INTERVAL 1 HOUR, timestamp) AS bucket, count(*) FROM logs "
            f"WHERE {where_day} GROUP BY bucket ORDER BY bucket",
            lambda response: [r.count for r in response.ranges],
            lambda rows: [row[1] for row in rows],
        ),
        Question(
            "query-logs: latest 100 in 24h",
            page(),
            latest(),
            page_digest,
            uuid_digest,
        ),
        Question(
            "query-logs: latest 100, search 'timeout'",
            page(searchTerm="timeout"),
            latest("AND body ILIKE '%timeout%'"),
            page_digest,
            uuid_digest,
        ),
        Question(
            "query-logs: latest 100, search 'card_declined'",
            page(searchTerm="card_declined"),
            latest("AND body ILIKE '%card\\_declined%' ESCAPE '\\'"),
            page_digest,
            uuid_digest,
        ),
        Question(
            "query-logs: http.status_code = 503",
            page(filterGroup=status_503),
            latest("AND TRY_CAST(attributes['http.status_code'] AS DOUBLE) = 503"),
            page_digest,
            uuid_digest,
        ),
        Question(
            "attribute keys: last 1h",
            keys(hour),
            duckdb_keys(end - timedelta(hours=1)),
            lambda response: sorted(item.name for item in response.results),
            lambda rows: sorted(row[0] for row in rows),
        ),
        Question(
            "attribute keys: last 24h",
            keys(day),
            duckdb_keys(end - timedelta(hours=24)),
            lambda response: sorted(item.name for item in response.results),
            lambda rows: sorted(row[0] for row in rows),
        ),
        Question(
            "services: 24h, with sparkline",
            lambda services: services.discovery.services(project, services_request),
            # The same two answers: per-service totals, then 30-minute counts of the top 25 services.
            f"WITH totals AS (SELECT service_name, count(*) AS log_count, "
            "count(*) FILTER (WHERE severity_text IN ('error', 'fatal')) AS error_count, "
            "count(*) FILTER (WHERE severity_text IN ('trace', 'debug')) AS debug_count, "
            "count(*) FILTER (WHERE severity_text = 'info') AS info_count, "
            "count(*) FILTER (WHERE severity_text = 'warn') AS warn_count "
            f"FROM logs WHERE {where_day} GROUP BY service_name), "
            "top AS (SELECT service_name FROM totals ORDER BY log_count DESC, service_name LIMIT 25), "
            "spark AS (SELECT time_bucket(INTERVAL 30 MINUTE, timestamp) AS time, service_name, "
            "count(*) AS n "
            f"FROM logs WHERE {where_day} AND service_name IN (SELECT service_name FROM top) "
            "GROUP BY ALL) "
            "SELECT 'total', service_name, log_count, NULL FROM totals "
            "UNION ALL SELECT 'spark', service_name, n, time FROM spark",
            lambda response: sorted((s.service_name, s.log_count) for s in response.services),
            lambda rows: sorted((row[1], row[2]) for row in rows if row[0] == "total"),
        ),
    ]


def _range(start: datetime, end: datetime) -> dict[str, str]:
    return {"date_from": start.isoformat(), "date_to": end.isoformat()}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def build_duckdb() -> duckdb.DuckDBPyConnection:
    """DuckDB's best shape for these questions: one table sorted by (project, time), so its zone maps
    prune time ranges, with native MAP columns for attributes. Timestamps are plain TIMESTAMP holding
    UTC (TIMESTAMPTZ arithmetic needs the ICU extension, which this offline box cannot load)."""
    if not DUCKDB_FILE.exists():
        started = time.perf_counter()
        connection = duckdb.connect(str(DUCKDB_FILE), config={"threads": 2})
        connection.execute("SET enable_progress_bar = false")
        connection.execute(
            "CREATE TABLE logs AS SELECT project_id::UINTEGER AS project_id, "
            "timestamp::TIMESTAMP AS timestamp, observed_timestamp::TIMESTAMP AS observed_timestamp, "
            "uuid::UUID AS uuid, trace_id, span_id, trace_flags, severity_text, severity_number, "
            "service_name, "
            "body, attributes, resource_attributes, instrumentation_scope, event_name "
            f"FROM read_parquet('{PARQUET}') ORDER BY project_id, timestamp"
        )
        connection.execute("CHECKPOINT")
        connection.close()
        print(f"built DuckDB copy in {time.perf_counter() - started:.0f} s")
    connection = duckdb.connect(str(DUCKDB_FILE), read_only=True, config={"threads": 2})
    connection.execute("SET enable_progress_bar = false")
    return connection


def p50s(runs: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median wall time of each run after one warm-up, taking turns so that load from other processes on
    this shared box falls on every contestant alike. Each round starts with the next contestant: none
    always runs right after the same other one (raw replaying what ours just read, ours after DuckDB)."""
    for run in runs:
        run()
    times: list[list[float]] = [[] for _ in runs]
    for round_number in range(repeat):
        for index in range(len(runs)):
            turn = (round_number + index) % len(runs)
            started = time.perf_counter()
            runs[turn]()
            times[turn].append(time.perf_counter() - started)
    return [statistics.median(samples) for samples in times]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--only", nargs="*", default=[], help="run questions whose name contains one of these"
    )
    args = parser.parse_args()

    store, dataset = open_store(args.rows)
    capture = CapturingStore(store)
    services = Services(LogQueries(store), Discovery(store))
    raw = RawChdb()
    duck = build_duckdb()
    # What is alive now is long-lived, as `logs-mcp serve` freezes its start-up objects (cli.starting):
    # otherwise every full collection during a timed call rescans the imports and the loaded data sets.
    gc.collect()
    gc.freeze()

    header = f"{'query':<48} {'ours ms':>9} {'raw ms':>9} {'ours/raw':>9} {'duckdb ms':>10} {'ours/duck':>10}"
    print(header)
    print("-" * len(header))
    for question in questions(dataset):
        if args.only and not any(part in question.name for part in args.only):
            continue
        question.ours(services)  # what a repeated call sends: a page sizes its slices once per project
        capture.calls.clear()
        answer = question.ours(services)
        calls = list(capture.calls)
        duck_rows = duck.execute(question.duckdb_sql).fetchall()
        if question.ours_digest(answer) != question.duckdb_digest(duck_rows):
            print(
                f"  !! {question.name}: answers differ: ours {question.ours_digest(answer)!r:.200} "
                f"duckdb {question.duckdb_digest(duck_rows)!r:.200}"
            )
        runs: list[Callable[[], object]] = [
            lambda q=question: q.ours(services),  # type: ignore[misc]
            lambda c=calls: raw.run(c),  # type: ignore[misc]
            lambda q=question: duck.execute(q.duckdb_sql).fetchall(),  # type: ignore[misc]
        ]
        ours, replay, theirs = p50s(
            runs,
            args.repeat,
        )
        print(
            f"{question.name:<48} {ours * 1e3:9.1f} {replay * 1e3:9.1f} {ours / replay:9.2f} "
            f"{theirs * 1e3:10.1f} {ours / theirs:10.2f}"
        )
    store.close()


if __name__ == "__main__":
    main()
