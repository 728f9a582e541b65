"""Attribute discovery: the migration-2 rollups against direct queries over the logs table's maps.

    .venv/bin/python bench/attribute_discovery.py [rows]     (default 1,000,000)

Loads ``rows`` synthetic rows over the last 24 h into a throw-away embedded store twice — once with
only the logs table, once with every migration (so the rollups' materialized views run) — then times,
p50 of 7 runs each, the key and value questions both ways. The direct SQL is the shape
``logs/discovery.py`` uses when a filter forces it off the rollups. The figures behind the design are
in that module's docstring.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from logs_mcp.logs.discovery import Discovery
from logs_mcp.logs.discovery_models import AttributesRequest, ValuesRequest
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.log_schema import SchemaTarget, bootstrap_statements, create_logs_table

RUNS = 7
# 8 log attributes (one a unique request id) and 6 resource attributes per row, 20 services.
GENERATE = """
INSERT INTO {table} (project_id, timestamp, observed_timestamp, trace_id, span_id, severity_text,
    severity_number, service_name, body, attributes, resource_attributes)
SELECT 1, now64(6) - toIntervalMicrosecond(intDiv(number * 86400000000, {{n:UInt64}})), now64(6),
    unhex(lpad(hex(cityHash64(number)), 32, '0')), unhex(lpad(hex(number), 16, '0')),
    ['info', 'info', 'info', 'debug', 'warn', 'error'][1 + number % 6], 9,
    concat('svc-', toString(number % 20)),
    concat('request handled path=/api/', toString(number % 50)),
    map('http.method', ['GET', 'POST', 'PUT'][1 + number % 3], 'http.status_code',
        toString([200, 200, 404, 500][1 + number % 4]), 'http.route', concat('/api/', toString(number % 50)),
        'request.id', toString(generateUUIDv4(number)), 'user.id', toString(number % 5000),
        'duration_ms', toString(number % 997), 'db.system', 'postgresql',
        'feature.flag', concat('flag-', toString(number % 30))),
    map('service.name', concat('svc-', toString(number % 20)),
        'k8s.pod.name', concat('pod-', toString(number % 200)),
        'k8s.namespace.name', 'prod', 'host.name', concat('host-', toString(number % 40)),
        'deployment.environment', 'production', 'service.version', '1.2.3')
FROM numbers({{n:UInt64}})
"""
DIRECT_KEYS = (
    "SELECT key, count() FROM {table} ARRAY JOIN attributes.keys AS key "
    "WHERE project_id = 1 AND timestamp >= now64(6) - toIntervalHour({hours}) GROUP BY key"
)
DIRECT_VALUES = (
    "SELECT attributes['user.id'] AS value, count() AS c FROM {table} WHERE project_id = 1 "
    "AND timestamp >= now64(6) - toIntervalHour({hours}) AND mapContains(attributes, 'user.id') "
    "GROUP BY value ORDER BY c DESC, value LIMIT 100"
)
DIRECT_VALUE_SEARCH = (
    "SELECT key, argMin(value, (-c, value)) FROM (SELECT key, value, count() AS c FROM {table} "
    "ARRAY JOIN attributes.keys AS key, attributes.values AS value WHERE project_id = 1 "
    "AND timestamp >= now64(6) - toIntervalHour({hours}) AND value ILIKE '%flag-1%' GROUP BY key, value) "
    "GROUP BY key"
)


def p50_ms(run: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def load(store: LogStore, rows: int) -> float:
    start = time.perf_counter()
    store.command(GENERATE.format(table=store.logs_table), {"n": rows})
    return time.perf_counter() - start


def main(rows: int) -> None:
    # Two clients on one chDB path: one for the plain database, one lent to the database with rollups.
    store = LogStore.open(
        url=None, data_dir=Path(tempfile.mkdtemp()), target=SchemaTarget("bench_plain", 30), pool_size=2
    )
    try:
        for statement in bootstrap_statements(store.target) + create_logs_table(store.target):
            store.command(statement)
        print(f"insert {rows:,} rows, logs table only: {load(store, rows):6.1f} s")
        with store.client() as client:
            rolled = LogStore([client], SchemaTarget("bench_rollups", 30))
            rolled.migrate()
            print(f"insert {rows:,} rows, with the rollups: {load(rolled, rows):6.1f} s")
            compare(store, Discovery(rolled))
            for database, name, size in rolled.query(
                "SELECT database, table, sum(bytes_on_disk) FROM system.parts WHERE active "
                "AND database LIKE 'bench_%' GROUP BY database, table ORDER BY database, table"
            ).rows:
                print(f"{database}.{name}: {size / 1e6:.1f} MB")
    finally:
        store.close()


def compare(plain: LogStore, discovery: Discovery) -> None:
    for hours in (1, 24):
        compare_window(plain, discovery, hours)


def compare_window(plain: LogStore, discovery: Discovery, hours: int) -> None:
    window = {"dateRange": {"date_from": f"-{hours}h"}}
    value_search = {**window, "search": "flag-1", "search_values": True}
    cases: dict[str, tuple[Callable[[], object], str]] = {
        "keys": (lambda: discovery.attributes(1, AttributesRequest.model_validate(window)), DIRECT_KEYS),
        "values of user.id": (
            lambda: discovery.values(1, ValuesRequest.model_validate({**window, "key": "user.id"})),
            DIRECT_VALUES,
        ),
        "value search flag-1": (
            lambda: discovery.attributes(1, AttributesRequest.model_validate(value_search)),
            DIRECT_VALUE_SEARCH,
        ),
    }
    for name, (rollups, direct_sql) in cases.items():
        sql = direct_sql.format(table=plain.logs_table, hours=hours)
        direct = p50_ms(lambda sql=sql: plain.query(sql))  # type: ignore[misc]
        print(f"{name:>20} {hours:>2} h: direct {direct:8.1f} ms   rollups {p50_ms(rollups):8.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
