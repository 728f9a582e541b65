"""ClickHouse schema of the log store as versioned migrations.

Each migration is a pure function from a :class:`SchemaTarget` to DDL statements, so the DDL for a
single node and for a cluster (``ReplicatedMergeTree`` ``ON CLUSTER`` behind a ``Distributed`` table)
comes from one definition and can be tested without a server. Applied versions are recorded in the
store itself (table ``schema_migrations``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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

    Sort key: project first (every query is project-scoped), then the hour so time ranges prune
    granules, then service and severity (the most common filters), then the timestamp.
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
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attribute_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attribute_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1"""
    storage = target.storage_table(LOGS_TABLE)
    return [
        f"CREATE TABLE IF NOT EXISTS {storage}{target.on_cluster} ({columns}\n) "
        f"ENGINE = {target.merge_tree(LOGS_TABLE)} "
        "PARTITION BY toDate(timestamp) "
        "ORDER BY (project_id, toStartOfHour(timestamp), service_name, severity_text, timestamp) "
        f"TTL toDateTime(timestamp) + INTERVAL {int(target.retention_days)} DAY "
        "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
        *_distributed(target, LOGS_TABLE, "cityHash64(project_id)"),
    ]


Migration = Callable[[SchemaTarget], list[str]]

MIGRATIONS: tuple[tuple[int, str, Migration], ...] = ((1, "create logs table", create_logs_table),)


def bootstrap_statements(target: SchemaTarget) -> list[str]:
    """The database and the table recording which migrations ran (replicated on a cluster, so every
    replica agrees on what was applied)."""
    return [
        f"CREATE DATABASE IF NOT EXISTS `{target.database}`{target.on_cluster}",
        f"CREATE TABLE IF NOT EXISTS {target.table('schema_migrations')}{target.on_cluster} "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        f"ENGINE = {target.merge_tree('schema_migrations', 'ReplacingMergeTree')} ORDER BY version",
    ]


def retention_statement(target: SchemaTarget) -> str:
    """Applies a changed retention setting to the existing table."""
    return (
        f"ALTER TABLE {target.storage_table(LOGS_TABLE)}{target.on_cluster} "
        f"MODIFY TTL toDateTime(timestamp) + INTERVAL {int(target.retention_days)} DAY"
    )
