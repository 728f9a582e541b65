"""The ClickHouse schema migrations: idempotent on restart, one definition for a single node and a cluster,
and the data-directory lock that keeps a second process out of the embedded store."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from logs_mcp.services import Services
from logs_mcp.store.clickhouse import DataDirLock, LogStore, StoreLockedError
from logs_mcp.store.log_schema import (
    MIGRATIONS,
    MINUTE_COUNTS_TABLE,
    SchemaTarget,
    bootstrap_statements,
    retention_statement,
    unpartition_minute_counts,
)

ALL_VERSIONS = [version for version, _name, _migration in MIGRATIONS]


def all_statements(target: SchemaTarget) -> list[str]:
    """Every DDL statement a migration run issues on ``target``, in order."""
    migrations = [statement for _v, _n, migration in MIGRATIONS for statement in migration(target)]
    return [*bootstrap_statements(target), *migrations, retention_statement(target)]


def applied_versions(store: LogStore) -> list[int]:
    table = store.target.table("schema_migrations")
    return [row[0] for row in store.query(f"SELECT version FROM {table} ORDER BY version").rows]


@pytest.fixture
def fresh_database_store(services: Services) -> Iterator[LogStore]:
    """A store on a database that does not exist yet, sharing one client of the session's chDB."""
    target = SchemaTarget(database=f"schema_test_{uuid.uuid4().hex[:12]}", retention_days=7)
    with services.log_store.client() as client:
        store = LogStore([client], target)
        try:
            yield store
        finally:
            store.command(f"DROP DATABASE IF EXISTS `{target.database}`")


def test_migrate_from_empty_then_again_on_restart(fresh_database_store: LogStore) -> None:
    assert fresh_database_store.migrate() == ALL_VERSIONS
    assert fresh_database_store.migrate() == []
    assert applied_versions(fresh_database_store) == ALL_VERSIONS


def test_the_session_store_is_migrated_once(services: Services) -> None:
    assert services.log_store.migrate() == []
    assert services.log_store.migrate() == []
    assert applied_versions(services.log_store) == ALL_VERSIONS


def logs_table_definition(store: LogStore) -> tuple[str, str]:
    """Engine and CREATE statement of the logs table, as the server reports them."""
    rows = store.query(
        "SELECT engine, create_table_query FROM system.tables "
        "WHERE database = {database:String} AND name = 'logs'",
        {"database": store.target.database},
    ).rows
    assert len(rows) == 1
    engine, create_query = rows[0]
    return engine, create_query


def test_a_restart_with_another_retention_changes_the_ttl(fresh_database_store: LogStore) -> None:
    fresh_database_store.migrate()
    engine, create_query = logs_table_definition(fresh_database_store)
    assert engine == "MergeTree"
    assert "TTL toDateTime(timestamp) + toIntervalDay(7)" in create_query

    with fresh_database_store.client() as client:
        restarted = LogStore([client], SchemaTarget(fresh_database_store.target.database, retention_days=14))
        assert restarted.migrate() == []
        assert "TTL toDateTime(timestamp) + toIntervalDay(14)" in logs_table_definition(restarted)[1]


def minute_counts_definition(store: LogStore) -> tuple[str, str]:
    rows = store.query(
        "SELECT partition_key, engine_full FROM system.tables "
        "WHERE database = {database:String} AND name = {name:String}",
        {"database": store.target.database, "name": MINUTE_COUNTS_TABLE},
    ).rows
    assert len(rows) == 1
    partition_key, engine = rows[0]
    return partition_key, engine


def test_version_7_rebuilds_the_minute_counts_without_partitions_and_keeps_every_count(
    fresh_database_store: LogStore,
) -> None:
    store = fresh_database_store
    store.migrate()
    counts = store.target.table(MINUTE_COUNTS_TABLE)
    assert minute_counts_definition(store)[0] == ""  # a fresh store is rebuilt too
    store.command(  # two days within the retention
        f"INSERT INTO {counts} SELECT project_id, toStartOfMinute(now() - toIntervalDay(days)), service, "
        "severity, n FROM values('project_id UInt64, days UInt8, service String, severity String, n UInt64', "
        "(1, 2, 'api', 'error', 3), (1, 0, 'api', 'info', 5), (2, 0, 'web', 'info', 7))"
    )
    before = store.query(f"SELECT * FROM {counts} ORDER BY ALL").rows
    assert len(before) == 3

    # Run twice, as after a start that died half-way: the rebuild starts over from the live table.
    for _ in range(2):
        for statement in unpartition_minute_counts(store.target):
            store.command(statement)

    assert store.query(f"SELECT * FROM {counts} ORDER BY ALL").rows == before
    partition_key, engine = minute_counts_definition(store)
    assert partition_key == ""
    assert "TTL (toStartOfDay(timestamp) + toIntervalDay(1)) + toIntervalDay(7)" in engine
    tables = store.query(
        "SELECT name FROM system.tables WHERE database = {database:String} AND name LIKE '%rebuilt%'",
        {"database": store.target.database},
    ).rows
    assert tables == []
    # The view still feeds the live table.
    store.command(
        f"INSERT INTO {store.logs_table} (project_id, timestamp, service_name, severity_text) "
        "VALUES (3, now64(), 'db', 'warn')"
    )
    assert store.query(f"SELECT sum(rows) FROM {counts} WHERE project_id = 3").rows == [(1,)]

    with store.client() as client:
        restarted = LogStore([client], SchemaTarget(store.target.database, retention_days=14))
        restarted.migrate()
    assert "+ toIntervalDay(14)" in minute_counts_definition(store)[1]


def test_cluster_ddl_replicates_every_table_on_the_cluster() -> None:
    target = SchemaTarget(database="logs_mcp", retention_days=30, cluster="c1")
    statements = all_statements(target)

    for statement in statements:
        if not statement.startswith("INSERT"):  # DDL; the rollup backfill goes through Distributed tables
            assert "ON CLUSTER `c1`" in statement, statement
    ddl = "\n".join(statements)
    assert "ReplicatedMergeTree('/clickhouse/tables/{shard}/logs_mcp/logs_local', '{replica}')" in ddl
    assert "ReplicatedReplacingMergeTree(" in ddl  # schema_migrations: every replica agrees on what ran
    assert "CREATE TABLE IF NOT EXISTS `logs_mcp`.`logs_local` ON CLUSTER `c1`" in ddl
    distributed = [s for s in statements if "ENGINE = Distributed(" in s]
    # logs, the two attribute rollups, the per-minute counts, and their rebuild of version 7 (dropped again)
    assert len(distributed) == 5
    assert distributed[0].startswith("CREATE TABLE IF NOT EXISTS `logs_mcp`.`logs` ON CLUSTER `c1`")
    assert "AS `logs_mcp`.`logs_local`" in distributed[0]
    assert "Distributed(`c1`, `logs_mcp`, `logs_local`, cityHash64(project_id))" in distributed[0]
    assert "TTL toDateTime(timestamp) + INTERVAL 30 DAY" in ddl
    assert retention_statement(target).startswith("ALTER TABLE `logs_mcp`.`logs_local` ON CLUSTER `c1`")
    column_changes = [s for s in statements if "MODIFY COLUMN" in s]
    assert [s.split(" ON CLUSTER")[0] for s in column_changes] == [
        "ALTER TABLE `logs_mcp`.`logs_local`",
        "ALTER TABLE `logs_mcp`.`logs`",  # the Distributed table's columns change with its shards'
    ]


def test_single_node_ddl_has_no_cluster_parts() -> None:
    target = SchemaTarget(database="logs_mcp", retention_days=30)
    ddl = "\n".join(all_statements(target))

    for cluster_only in ("ON CLUSTER", "Replicated", "Distributed", "_local", "{shard}", "{replica}"):
        assert cluster_only not in ddl
    assert "CREATE TABLE IF NOT EXISTS `logs_mcp`.`logs` (" in ddl
    assert re.search(r"ENGINE = MergeTree\(\) PARTITION BY toDate\(timestamp\) ORDER BY \(project_id,", ddl)
    assert "TTL toDateTime(timestamp) + INTERVAL 30 DAY" in ddl


def test_a_second_lock_on_the_data_dir_names_the_owner(tmp_path: Path) -> None:
    owner = DataDirLock(tmp_path)
    owner.acquire({"url": "http://127.0.0.1:8123"})
    try:
        with pytest.raises(StoreLockedError) as raised:
            DataDirLock(tmp_path).acquire({"stdio": True})
    finally:
        owner.release()

    error = raised.value
    assert error.owner == {"pid": os.getpid(), "url": "http://127.0.0.1:8123"}
    assert error.data_dir == tmp_path
    assert "http://127.0.0.1:8123" in str(error)


def test_the_lock_is_free_again_after_release(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire({})
    first.release()

    second = DataDirLock(tmp_path)
    second.acquire({"url": "http://next"})
    second.release()
