"""ClickHouse schema of the log store as versioned migrations.

Each migration is a pure function from a :class:`SchemaTarget` to DDL statements, so the DDL for a
single node and for a cluster (``ReplicatedMergeTree`` ``ON CLUSTER`` behind a ``Distributed`` table)
comes from one definition and can be tested without a server. Applied versions are recorded in the
store itself (table ``schema_migrations``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from logs_mcp.store.otlp_native import create_native_ingest

LOGS_TABLE = "logs"


@dataclass(frozen=True)
class SchemaTarget:
    database: str
    retention_days: int
    cluster: str | None = None

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER `{self.cluster}`" if self.cluster else ""

    def table(self, name: str) -> str:
        return f"`{self.database}`.`{name}`"

    def storage_table(self, name: str) -> str:
        """The table rows physically live in: ``<name>_local`` on a cluster, ``<name>`` otherwise."""
        return self.table(f"{name}_local" if self.cluster else name)

    def merge_tree(self, name: str, engine: str = "MergeTree") -> str:
        if not self.cluster:
            return f"{engine}()"
        path = f"/clickhouse/tables/{{shard}}/{self.database}/{name}_local"
        return f"Replicated{engine}('{path}', '{{replica}}')"


def _distributed(target: SchemaTarget, name: str, sharding_key: str) -> list[str]:
    if not target.cluster:
        return []
    return [
        f"CREATE TABLE IF NOT EXISTS {target.table(name)}{target.on_cluster} "
        f"AS {target.storage_table(name)} "
        f"ENGINE = Distributed(`{target.cluster}`, `{target.database}`, `{name}_local`, {sharding_key})"
    ]


def create_logs_table(target: SchemaTarget) -> list[str]:
    """Version 1: the OTel-shaped logs table.

    Sort key: project (every query is project-scoped), then the timestamp, so a page's time slice
    reads only its own granules (a 3-minute slice of the 10M-row bench: 1 granule, where a key of
    (project, hour, service, severity, timestamp) read the whole hour's 4). Service and severity
    filters skip granules through the set indexes; counting by them was the job of the projection
    ``p_minute_counts`` (rows per project, service, severity and minute), which version 5 replaced by
    a table of its own and version 6 drops. See docs/benchmarks.md, "Queries".
    Attribute values are kept as text ("42", "true"); numeric comparison casts at query time.
    """
    columns = """
    project_id UInt64,
    timestamp DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    observed_timestamp DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    uuid UUID DEFAULT generateUUIDv7(),
    trace_id FixedString(16),
    span_id FixedString(8),
    trace_flags UInt32,
    severity_text LowCardinality(String),
    severity_number UInt8,
    service_name LowCardinality(String),
    body String CODEC(ZSTD(1)),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    resource_fingerprint UInt64 MATERIALIZED cityHash64(resource_attributes),
    instrumentation_scope LowCardinality(String),
    event_name LowCardinality(String),
    INDEX idx_body body TYPE text(tokenizer = ngrams(3), preprocessor = lower(body)),
    INDEX idx_service_name service_name TYPE set(0) GRANULARITY 1,
    INDEX idx_severity_text severity_text TYPE set(0) GRANULARITY 1,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attribute_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attribute_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    PROJECTION p_minute_counts (
        SELECT project_id, service_name, severity_text, toStartOfMinute(timestamp), count()
        GROUP BY project_id, service_name, severity_text, toStartOfMinute(timestamp)
    )"""
    storage = target.storage_table(LOGS_TABLE)
    return [
        f"CREATE TABLE IF NOT EXISTS {storage}{target.on_cluster} ({columns}\n) "
        f"ENGINE = {target.merge_tree(LOGS_TABLE)} "
        "PARTITION BY toDate(timestamp) "
        "ORDER BY (project_id, timestamp) "
        f"TTL toDateTime(timestamp) + INTERVAL {int(target.retention_days)} DAY "
        "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
        *_distributed(target, LOGS_TABLE, "cityHash64(project_id)"),
    ]


ATTRIBUTES_TABLE = "log_attributes"
ATTRIBUTE_KEYS_TABLE = "log_attribute_keys"
ATTRIBUTE_BUCKET_SECONDS = 600
# Longer log attribute values are left out of the value rollup (as PostHog's): they are ids or payloads
# nobody picks from a list, and they would dominate its size.
MAX_ROLLUP_VALUE_LENGTH = 256


def create_attribute_rollups(target: SchemaTarget) -> list[str]:
    """Version 2: attribute rollups for key and value discovery, fed by materialized views.

    ``log_attributes`` counts logs per (project, type, key, 10-minute bucket, value, service, severity);
    ``log_attribute_keys`` is the same without the value (fed from the first by a chained view until
    version 3), so listing keys reads a few thousand rows instead of one per distinct value. Keys lead
    the value rollup's sort order: a values query reads only its key's granules. Logs stored before this
    migration are copied in once (the views only see new inserts; migrations run before ingest starts).
    See ``logs/discovery.py`` for the measurements behind this design.
    """
    values, keys = target.storage_table(ATTRIBUTES_TABLE), target.storage_table(ATTRIBUTE_KEYS_TABLE)
    ttl = f"TTL time_bucket + INTERVAL {int(target.retention_days)} DAY"
    value_columns = """
    project_id UInt64,
    attribute_type LowCardinality(String),
    attribute_key LowCardinality(String),
    time_bucket DateTime('UTC'),
    attribute_value String CODEC(ZSTD(1)),
    service_name LowCardinality(String),
    severity_text LowCardinality(String),
    attribute_count SimpleAggregateFunction(sum, UInt64)"""
    key_columns = """
    project_id UInt64,
    attribute_type LowCardinality(String),
    time_bucket DateTime('UTC'),
    attribute_key LowCardinality(String),
    service_name LowCardinality(String),
    severity_text LowCardinality(String),
    attribute_count SimpleAggregateFunction(sum, UInt64)"""
    keys_select = (
        "SELECT project_id, attribute_type, time_bucket, attribute_key, service_name, severity_text, "
        f"sum(attribute_count) AS attribute_count FROM {values} "
        "GROUP BY project_id, attribute_type, time_bucket, attribute_key, service_name, severity_text"
    )
    return [
        f"CREATE TABLE IF NOT EXISTS {values}{target.on_cluster} ({value_columns}\n) "
        f"ENGINE = {target.merge_tree(ATTRIBUTES_TABLE, 'AggregatingMergeTree')} "
        "PARTITION BY toDate(time_bucket) "
        "ORDER BY (project_id, attribute_type, attribute_key, time_bucket, attribute_value, service_name, "
        f"severity_text) {ttl} SETTINGS ttl_only_drop_parts = 1",
        *_distributed(target, ATTRIBUTES_TABLE, "cityHash64(project_id)"),
        f"CREATE TABLE IF NOT EXISTS {keys}{target.on_cluster} ({key_columns}\n) "
        f"ENGINE = {target.merge_tree(ATTRIBUTE_KEYS_TABLE, 'AggregatingMergeTree')} "
        "PARTITION BY toDate(time_bucket) "
        "ORDER BY (project_id, attribute_type, time_bucket, attribute_key, service_name, severity_text) "
        f"{ttl} SETTINGS ttl_only_drop_parts = 1",
        *_distributed(target, ATTRIBUTE_KEYS_TABLE, "cityHash64(project_id)"),
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {target.table(ATTRIBUTE_KEYS_TABLE + '_mv')}"
        f"{target.on_cluster} TO {keys} AS {keys_select}",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {target.table(ATTRIBUTES_TABLE + '_mv')}"
        f"{target.on_cluster} TO {values} AS {_rollup_select(target.storage_table(LOGS_TABLE))}",
        # Through the Distributed tables on a cluster: one statement covers every shard.
        f"INSERT INTO {target.table(ATTRIBUTES_TABLE)} {_rollup_select(target.table(LOGS_TABLE))}",
    ]


def _rollup_select(logs_table: str) -> str:
    """One value-rollup row per (key, value, 10-minute bucket, service, severity) of the logs read."""
    pairs = (
        "arrayConcat("
        "arrayMap((k, v) -> ('log', k, v), attributes.keys, attributes.values), "
        "arrayMap((k, v) -> ('resource', k, v), resource_attributes.keys, resource_attributes.values))"
    )
    return (
        "SELECT project_id, pair.1 AS attribute_type, pair.2 AS attribute_key, "
        f"toStartOfInterval(timestamp, INTERVAL {ATTRIBUTE_BUCKET_SECONDS} SECOND) AS time_bucket, "
        "pair.3 AS attribute_value, service_name, severity_text, count() AS attribute_count "
        f"FROM {logs_table} ARRAY JOIN {pairs} AS pair "
        f"WHERE pair.1 = 'resource' OR length(pair.3) < {MAX_ROLLUP_VALUE_LENGTH} "
        "GROUP BY project_id, attribute_type, attribute_key, time_bucket, attribute_value, service_name, "
        "severity_text"
    )


def count_keys_from_logs(target: SchemaTarget) -> list[str]:
    """Version 3: ``log_attribute_keys`` counted straight from the logs, not from the value rollup.

    Version 2 derived keys from ``log_attributes``, which leaves out values of 256+ characters, so a
    key whose values are all long (a stack trace, a SQL statement) was never listed. Reading only the
    maps' key subcolumns, the new view costs about what the chained one did. The keys are recounted
    from the logs once.
    """
    keys, view = target.storage_table(ATTRIBUTE_KEYS_TABLE), target.table(ATTRIBUTE_KEYS_TABLE + "_mv")
    return [
        f"DROP VIEW IF EXISTS {view}{target.on_cluster}",
        f"TRUNCATE TABLE IF EXISTS {keys}{target.on_cluster}",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view}{target.on_cluster} TO {keys} "
        f"AS {_key_rollup_select(target.storage_table(LOGS_TABLE))}",
        f"INSERT INTO {target.table(ATTRIBUTE_KEYS_TABLE)} {_key_rollup_select(target.table(LOGS_TABLE))}",
    ]


def _key_rollup_select(logs_table: str) -> str:
    keys = (
        "arrayConcat(arrayMap(k -> ('log', k), attributes.keys), "
        "arrayMap(k -> ('resource', k), resource_attributes.keys))"
    )
    return (
        "SELECT project_id, pair.1 AS attribute_type, "
        f"toStartOfInterval(timestamp, INTERVAL {ATTRIBUTE_BUCKET_SECONDS} SECOND) AS time_bucket, "
        "pair.2 AS attribute_key, service_name, severity_text, count() AS attribute_count "
        f"FROM {logs_table} ARRAY JOIN {keys} AS pair "
        "GROUP BY project_id, attribute_type, time_bucket, attribute_key, service_name, severity_text"
    )


MINUTE_COUNTS_TABLE = "log_minute_counts"
_MINUTE_COUNTS_COLUMNS = """
    project_id UInt64,
    timestamp DateTime('UTC'),
    service_name LowCardinality(String),
    severity_text LowCardinality(String),
    rows SimpleAggregateFunction(sum, UInt64)"""
_MINUTE_COUNTS_ORDER = "(project_id, timestamp, service_name, severity_text)"
# A minute's count expires with the logs' daily part of its day: at the day's end plus the retention.
_MINUTE_COUNTS_EXPIRY = "toStartOfDay(timestamp) + INTERVAL 1 DAY"


def create_minute_counts(target: SchemaTarget) -> list[str]:
    """Version 5: logs per (project, minute, service, severity) in a table of their own, and resource
    attribute values as ``LowCardinality``.

    ``log_minute_counts`` holds what the ``p_minute_counts`` projection does, fed by a materialized view;
    counts, count-ranges and services read it directly (``log_queries.counting_parts``). Its ``timestamp``
    is the minute's start, so the conditions written for the logs select its minutes. Planning a
    statement on this small table takes about half what planning the projection's statement on the logs
    takes, and that planning was most of a count's time. Version 6 drops the projection.

    Resource attribute values repeat from row to row (a service's host, version, region): as
    ``LowCardinality`` they decode about six times smaller, which is most of what a page spends on its
    rows' maps. ``cityHash64`` of the map, the resource fingerprint, is unchanged. Existing parts are
    rewritten by a background mutation; reads convert the parts not yet rewritten. See
    docs/benchmarks.md, "Queries".
    """
    counts = target.storage_table(MINUTE_COUNTS_TABLE)
    resource_values = "Map(LowCardinality(String), LowCardinality(String))"
    # On a cluster the Distributed table's columns change too.
    logs_tables = [target.storage_table(LOGS_TABLE), *([target.table(LOGS_TABLE)] if target.cluster else [])]
    return [
        f"CREATE TABLE IF NOT EXISTS {counts}{target.on_cluster} ({_MINUTE_COUNTS_COLUMNS}\n) "
        f"ENGINE = {target.merge_tree(MINUTE_COUNTS_TABLE, 'AggregatingMergeTree')} "
        f"PARTITION BY toDate(timestamp) ORDER BY {_MINUTE_COUNTS_ORDER} "
        f"TTL timestamp + INTERVAL {int(target.retention_days)} DAY SETTINGS ttl_only_drop_parts = 1",
        *_distributed(target, MINUTE_COUNTS_TABLE, "cityHash64(project_id)"),
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {target.table(MINUTE_COUNTS_TABLE + '_mv')}"
        f"{target.on_cluster} TO {counts} AS {_minute_counts_select(target.storage_table(LOGS_TABLE))}",
        f"INSERT INTO {target.table(MINUTE_COUNTS_TABLE)} {_minute_counts_select(target.table(LOGS_TABLE))}",
        *(
            f"ALTER TABLE {table}{target.on_cluster} MODIFY COLUMN resource_attributes {resource_values}"
            for table in logs_tables
        ),
    ]


def _minute_counts_select(logs_table: str) -> str:
    return (
        "SELECT project_id, toStartOfMinute(timestamp) AS timestamp, service_name, severity_text, "
        f"count() AS rows FROM {logs_table} GROUP BY project_id, timestamp, service_name, severity_text"
    )


def drop_minute_counts_projection(target: SchemaTarget) -> list[str]:
    """Version 6: the ``p_minute_counts`` projection goes. Every count reads ``log_minute_counts`` now
    (the alert counts were the last reader), and the projection was built again on every insert and
    merge of the logs table."""
    return [
        f"ALTER TABLE {target.storage_table(LOGS_TABLE)}{target.on_cluster} "
        "DROP PROJECTION IF EXISTS p_minute_counts"
    ]


def unpartition_minute_counts(target: SchemaTarget) -> list[str]:
    """Version 7: ``log_minute_counts`` without daily partitions, rebuilt from its own rows and swapped in.

    Planning a statement is most of what a count over this small table costs, and daily partitions made
    ClickHouse prune partitions and a min-max index besides the sort key, and read a part per day: on the
    bench, without them a filtered 24-hour count takes 12 % less, count-ranges 14 %, services 27 %
    (docs/benchmarks.md, "Queries"). Rows now expire by a row TTL at the end of their day plus the
    retention, when the logs' daily part of that day is dropped too. The rebuilt table starts empty if an
    earlier attempt died half-way, and ``EXCHANGE`` swaps it in whole; the view writes to the table by name.
    (On a cluster the live table then keeps the rebuilt one's replication path: an attempt that died
    between the ``EXCHANGE`` and the last ``DROP`` fails on its retry, loudly, until that path is free.)
    """
    counts, rebuilt = MINUTE_COUNTS_TABLE, MINUTE_COUNTS_TABLE + "_rebuilt"
    tables = [target.table(rebuilt), *([target.storage_table(rebuilt)] if target.cluster else [])]
    return [
        *(f"DROP TABLE IF EXISTS {table}{target.on_cluster} SYNC" for table in tables),
        f"CREATE TABLE {target.storage_table(rebuilt)}{target.on_cluster} ({_MINUTE_COUNTS_COLUMNS}\n) "
        f"ENGINE = {target.merge_tree(rebuilt, 'AggregatingMergeTree')} ORDER BY {_MINUTE_COUNTS_ORDER} "
        f"TTL {_MINUTE_COUNTS_EXPIRY} + INTERVAL {int(target.retention_days)} DAY",
        *_distributed(target, rebuilt, "cityHash64(project_id)"),
        # Through the Distributed tables on a cluster: one statement covers every shard, and it waits until
        # every shard holds its rows (a Distributed insert is sent in the background by default).
        f"INSERT INTO {target.table(rebuilt)} SELECT * FROM {target.table(counts)} "
        "SETTINGS distributed_foreground_insert = 1",
        f"EXCHANGE TABLES {target.storage_table(counts)} AND {target.storage_table(rebuilt)}"
        f"{target.on_cluster}",
        *(f"DROP TABLE {table}{target.on_cluster} SYNC" for table in tables),
    ]


Migration = Callable[[SchemaTarget], list[str]]

MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "create logs table", create_logs_table),
    (2, "attribute rollups", create_attribute_rollups),
    (3, "attribute keys counted from the logs", count_keys_from_logs),
    (4, "native OTLP protobuf ingest", create_native_ingest),
    (5, "per-minute counts table, resource attribute values as LowCardinality", create_minute_counts),
    (6, "drop the per-minute counts projection", drop_minute_counts_projection),
    (7, "per-minute counts without daily partitions", unpartition_minute_counts),
)


def bootstrap_statements(target: SchemaTarget) -> list[str]:
    """The database and the table recording which migrations ran (replicated on a cluster, so every
    replica agrees on what was applied)."""
    return [
        f"CREATE DATABASE IF NOT EXISTS `{target.database}`{target.on_cluster}",
        f"CREATE TABLE IF NOT EXISTS {target.table('schema_migrations')}{target.on_cluster} "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        f"ENGINE = {target.merge_tree('schema_migrations', 'ReplacingMergeTree')} ORDER BY version",
    ]


def rollup_retention_statements(target: SchemaTarget) -> list[str]:
    """The rollups follow the logs' retention, so discovery and counts cover what the logs still hold."""
    return [
        f"ALTER TABLE {target.storage_table(table)}{target.on_cluster} "
        f"MODIFY TTL {moment} + INTERVAL {int(target.retention_days)} DAY"
        for table, moment in (
            (ATTRIBUTES_TABLE, "time_bucket"),
            (ATTRIBUTE_KEYS_TABLE, "time_bucket"),
            (MINUTE_COUNTS_TABLE, _MINUTE_COUNTS_EXPIRY),
        )
    ]


def retention_statement(target: SchemaTarget) -> str:
    """Applies a changed retention setting to the existing table."""
    return (
        f"ALTER TABLE {target.storage_table(LOGS_TABLE)}{target.on_cluster} "
        f"MODIFY TTL toDateTime(timestamp) + INTERVAL {int(target.retention_days)} DAY"
    )
