"""The benchmark data set: 10M realistic log rows, generated once by ClickHouse, kept under bench/.data/.

Rows are a pure function of the row number (``cityHash64`` of it) and of the anchor time written to
``meta.json``, so every run measures the same data. The first load writes them to ``rows.parquet`` too;
a changed table design reloads the store from that file (same rows, same uuids), and DuckDB is loaded
from the same file, so both engines answer over identical rows.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from logs_mcp.logs.ingest import COLUMNS
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.log_schema import MIGRATIONS, SchemaTarget

DATA_DIR = Path(__file__).resolve().parent / ".data"
STORE_DIR = DATA_DIR / "store"
PARQUET = DATA_DIR / "rows.parquet"
DUCKDB_FILE = DATA_DIR / "logs.duckdb"
META = DATA_DIR / "meta.json"

# Bump when GENERATE_SQL changes meaning: the next run then regenerates everything.
GENERATOR_VERSION = 2
DAYS = 7
PEAK_HOUR = 14
BIG_PROJECT, MID_PROJECT, SMALL_PROJECT = 1, 2, 3
TARGET = SchemaTarget(database="logs_bench", retention_days=3650)

# One row per number. ``u`` spreads rows over the week; the sine warp gives a daily rhythm (about 2.6x more
# rows at PEAK_HOUR UTC than 12 hours later) while keeping the row count exact. Services, severities,
# routes, users and words are drawn from skewed tables with independent hashes of the row number.
GENERATE_SQL = """
INSERT INTO FUNCTION file({path:String}, 'Parquet')
SELECT
    generateUUIDv7(number) AS uuid,
    toUInt64(multiIf(h0 % 100 < 80, 1, h0 % 100 < 95, 2, 3)) AS project_id,
    ts AS timestamp,
    ts + toIntervalMillisecond(h3 % 2000) AS observed_timestamp,
    if(traced, toFixedString(concat(reinterpretAsFixedString(h3), reinterpretAsFixedString(h4)), 16),
       toFixedString('', 16)) AS trace_id,
    if(traced, reinterpretAsFixedString(h5), toFixedString('', 8)) AS span_id,
    toUInt32(traced) AS trace_flags,
    severity AS severity_text,
    toUInt8([1, 5, 9, 13, 17, 21][indexOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], severity)])
        AS severity_number,
    service AS service_name,
    multiIf(
        http, concat(method, ' ', path, ' ', toString(status), ' ', toString(duration), 'ms'),
        severity IN ('error', 'fatal'), concat(
            ['payment provider timeout after ', 'connection refused by db-primary after ',
             'unhandled exception in worker loop after ', 'card_declined for order after ',
             'failed to publish message to queue after ', 'deadline exceeded calling inventory after '
            ][1 + h6 % 6], toString(duration), 'ms: ', word1, ' ', word2),
        severity = 'warn', concat(
            ['retrying request ', 'slow query detected ', 'cache miss ratio high ', 'rate limit near ',
             'deprecated api used '][1 + h6 % 5], word1, ' ', word2, ' took ', toString(duration), 'ms'),
        concat(
            ['user ', 'processed job ', 'cache hit for key ', 'sent email to ', 'scheduled task ',
             'loaded config ', 'reconciled stock for sku ', 'session refreshed for ', 'indexed document ',
             'flushed batch of '][1 + h6 % 10],
            word1, ' ', word2, ' ', word3, ' id=', lower(hex(h7 % 1000000)))) AS body,
    mapFromArrays(
        arrayConcat(
            if(http, ['http.method', 'http.route', 'http.status_code'], []),
            ['duration_ms'],
            if(h5 % 10 < 7, ['user.id'], []),
            if(service IN ('checkout', 'payments'), ['order.id', 'payment.provider'], []),
            if(service IN ('inventory', 'worker'), ['db.system', 'db.operation'], [])),
        arrayConcat(
            if(http, [method, route, toString(status)], []),
            [toString(duration)],
            if(h5 % 10 < 7, [concat('u_', toString(h7 % 25000))], []),
            if(service IN ('checkout', 'payments'),
               [concat('ord_', lower(hex(h4 % 100000000))), ['stripe', 'adyen', 'paypal'][1 + h6 % 3]], []),
            if(service IN ('inventory', 'worker'),
               ['postgresql', ['SELECT', 'UPDATE', 'INSERT'][1 + h6 % 3]], []))) AS attributes,
    map('service.name', service,
        'service.version',
            concat(toString(1 + service_index % 4), '.', toString(service_index * 7 % 13), '.0'),
        'deployment.environment', if(h0 % 50 = 0, 'staging', 'production'),
        'host.name', concat(service, '-', lower(hex(cityHash64(service) % 65536)), '-', toString(h2 % 4)),
        'k8s.namespace.name', 'shop',
        'cloud.region', ['eu-west-1', 'us-east-1'][1 + h0 % 2],
        'telemetry.sdk.language', ['nodejs', 'go', 'java', 'python', 'python', 'go', 'java', 'nodejs',
                                   'python', 'go'][service_index]) AS resource_attributes,
    '' AS instrumentation_scope,
    '' AS event_name
FROM (
    SELECT
        number,
        cityHash64(number, 0) AS h0, cityHash64(number, 1) AS h1, cityHash64(number, 2) AS h2,
        cityHash64(number, 3) AS h3, cityHash64(number, 4) AS h4, cityHash64(number, 5) AS h5,
        cityHash64(number, 6) AS h6, cityHash64(number, 7) AS h7,
        number / {rows:UInt64} AS u,
        {start:DateTime64(6, 'UTC')}
            + toIntervalMicrosecond(toInt64({span:Float64} * 1e6 * (u - 0.45 / (2 * pi() * {days:UInt32})
                * (sin(2 * pi() * {days:UInt32} * u + {phase:Float64}) - sin({phase:Float64}))))) AS ts,
        arrayFirstIndex(x -> x > h1 % 100,
                        arrayCumSum([22, 18, 10, 10, 9, 8, 7, 6, 5, 5])) AS service_index,
        ['frontend', 'api-gateway', 'search', 'cart', 'auth', 'checkout', 'inventory', 'notifications',
         'payments', 'worker'][service_index] AS service,
        h2 % 1000 + if(service = 'payments', 25, 0) AS severity_roll,
        multiIf(severity_roll < 8, 'trace', severity_roll < 68, 'debug', severity_roll < 898, 'info',
                severity_roll < 963, 'warn', severity_roll < 998, 'error', 'fatal') AS severity,
        service_index <= 5 AND h6 % 10 < 8 AS http,
        ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'][1 + h3 % 6] AS method,
        ['/api/products', '/api/products/{id}', '/api/cart', '/api/cart/items', '/api/checkout',
         '/api/search', '/api/users/{id}', '/login', '/health', '/api/orders/{id}'][1 + h4 % 10] AS route,
        replaceOne(route, '{id}', toString(h5 % 5000)) AS path,
        multiIf(severity IN ('error', 'fatal'), [500, 502, 503, 504][1 + h5 % 4],
                severity = 'warn', [400, 401, 403, 404, 429][1 + h5 % 5],
                [200, 200, 200, 200, 201, 204, 301, 304][1 + h5 % 8]) AS status,
        toUInt32(exp(2.5 + (h7 % 1000) / 1000 * 4.5)) AS duration,
        ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet',
         'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango',
         'uniform', 'victor', 'whiskey', 'xray', 'yankee', 'zulu', 'warehouse', 'shipment', 'invoice',
         'coupon', 'basket', 'profile', 'avatar', 'token', 'webhook', 'ledger', 'refund', 'catalog',
         'review', 'banner'] AS words,
        words[1 + h5 % 40] AS word1, words[1 + h6 % 37] AS word2, words[1 + h7 % 31] AS word3,
        h0 % 10 < 8 AS traced
    FROM numbers({rows:UInt64})
)
SETTINGS engine_file_truncate_on_insert = 1, output_format_parquet_row_group_size = 100000
"""


@dataclass(frozen=True)
class Dataset:
    rows: int
    end: datetime  # rows lie in [end - 7 days, end)

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=DAYS)


def schema_fingerprint() -> str:
    ddl = "\n".join(statement for _, _, migration in MIGRATIONS for statement in migration(TARGET))
    return hashlib.sha256(ddl.encode()).hexdigest()[:16]


def _read_meta() -> dict[str, object]:
    try:
        meta: dict[str, object] = json.loads(META.read_text())
        return meta
    except (OSError, ValueError):
        return {}


def open_store(rows: int) -> tuple[LogStore, Dataset]:
    """The bench store holding ``rows`` generated rows, (re)loading only what changed since the last run."""
    meta = _read_meta()
    if meta.get("generator") != GENERATOR_VERSION or meta.get("rows") != rows:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
        DATA_DIR.mkdir(parents=True)
        end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        meta = {"generator": GENERATOR_VERSION, "rows": rows, "end": end.isoformat()}
    dataset = Dataset(rows, datetime.fromisoformat(str(meta["end"])))
    fingerprint = schema_fingerprint()
    if meta.get("schema") != fingerprint:
        shutil.rmtree(STORE_DIR, ignore_errors=True)
    store = LogStore.open(url=None, data_dir=STORE_DIR, target=TARGET, pool_size=2)
    if not PARQUET.exists():
        started = time.perf_counter()
        _generate(store, dataset)
        print(f"generated {rows:,} rows into {PARQUET.name} in {time.perf_counter() - started:.0f} s")
    if meta.get("schema") != fingerprint:
        store.migrate()
        started = time.perf_counter()
        _load_parquet(store)
        loaded = time.perf_counter()
        _wait_for_merges(store)
        print(
            f"loaded {rows:,} rows into chDB in {loaded - started:.0f} s, "
            f"background merges settled {time.perf_counter() - loaded:.0f} s later"
        )
        meta["schema"] = fingerprint
    META.write_text(json.dumps(meta))
    return store, dataset


def _generate(store: LogStore, dataset: Dataset) -> None:
    seconds_into_day = (dataset.start - dataset.start.replace(hour=0, minute=0)).total_seconds()
    params = {
        "path": str(PARQUET),
        "rows": dataset.rows,
        "start": dataset.start,
        "span": DAYS * 86400,
        "days": DAYS,
        "phase": -2 * math.pi * (PEAK_HOUR * 3600 - seconds_into_day) / 86400,
    }
    store.command(GENERATE_SQL, params)


def _load_parquet(store: LogStore) -> None:
    names = ", ".join(("uuid", *COLUMNS))
    store.command(
        f"INSERT INTO {store.logs_table} ({names}) SELECT {names} FROM file({{path:String}}, 'Parquet') "
        "SETTINGS max_insert_threads = 2",
        {"path": str(PARQUET)},
    )


def _wait_for_merges(store: LogStore, quiet_seconds: float = 5, limit_seconds: float = 600) -> None:
    """Until no merge has run for ``quiet_seconds``: timings then see the parts a settled table has."""
    deadline = time.monotonic() + limit_seconds
    quiet_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < quiet_seconds:
        merging = store.query(
            "SELECT count() FROM system.merges WHERE database = {database:String}",
            {"database": TARGET.database},
        ).rows[0][0]
        if merging:
            quiet_since = time.monotonic()
        time.sleep(0.5)
