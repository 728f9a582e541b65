"""The ClickHouse log store: a small pool of clients, parameterized queries, columnar inserts, migrations.

One code path serves embedded chDB (``chdb:///<dir>``) and a ClickHouse server (``http(s)://``).
chDB runs the queries of one client one at a time, so a pool of clients on the same path lets
queries run side by side; ``autogenerate_session_id`` stays off so pooled server clients never
collide on ``SESSION_IS_LOCKED``.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from logs_mcp.store.log_schema import (
    LOGS_TABLE,
    MIGRATIONS,
    SchemaTarget,
    bootstrap_statements,
    retention_statement,
    rollup_retention_statements,
)

OWNER_FILE = "owner.json"


class StoreLockedError(RuntimeError):
    """Another process owns the embedded store; ``owner`` is what it wrote about itself."""

    def __init__(self, data_dir: Path, owner: dict[str, Any]) -> None:
        self.data_dir = data_dir
        self.owner = owner
        who = f"process {owner.get('pid', '?')}"
        if owner.get("url"):
            who += f" (logs-mcp serve at {owner['url']})"
        super().__init__(f"the log store in {data_dir} is in use by {who}")


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class DataDirLock:
    """An exclusive OS lock on the data directory, held while the embedded store is open.

    chDB itself refuses a second process with an opaque error; taking our own lock first lets us say
    who owns the store (``owner.json`` carries its pid and server URL) and what to do instead.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._file: IO[str] | None = None

    def acquire(self, owner: Mapping[str, Any]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.data_dir / "store.lock", "a+")  # noqa: SIM115 - held open while locked
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreLockedError(self.data_dir, read_owner(self.data_dir)) from None
        self._file = handle
        (self.data_dir / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), **owner}))

    def release(self) -> None:
        if self._file is not None:
            (self.data_dir / OWNER_FILE).unlink(missing_ok=True)
            self._file.close()
            self._file = None


def read_owner(data_dir: Path) -> dict[str, Any]:
    try:
        owner: dict[str, Any] = json.loads((data_dir / OWNER_FILE).read_text())
        return owner
    except (OSError, ValueError):
        return {}


class LogStore:
    """Pooled access to the logs database. Thread-safe: each call borrows one client."""

    def __init__(
        self,
        clients: Sequence[Client],
        target: SchemaTarget,
        lock: DataDirLock | None = None,
        *,
        connect: Callable[[], Client] | None = None,
        pool_size: int = 1,
    ):
        """``connect`` lets the pool grow to ``pool_size`` clients when queries overlap: opening them all
        up front would cost every start a few hundred milliseconds per client."""
        self.target = target
        self._lock = lock
        self._pool: queue.Queue[Client] = queue.Queue()
        for client in clients:
            self._pool.put(client)
        self._clients = list(clients)
        self._connect = connect
        self._pool_size = max(pool_size, len(self._clients))
        self._growing = threading.Lock()
        self._schemas_written: set[Path] = set()

    @classmethod
    def open(
        cls,
        *,
        url: str | None,
        data_dir: Path,
        target: SchemaTarget,
        pool_size: int,
        owner: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> LogStore:
        """Open a server by URL, or the embedded chDB store under ``data_dir`` (locking it)."""
        lock = None
        if url is None:
            lock = DataDirLock(data_dir)
            lock.acquire(owner or {})
            url = f"chdb://{(data_dir / 'clickhouse').resolve()}"
        connect = functools.partial(_connect, url, dict(settings or {}))
        try:
            first = connect()
        except Exception:
            if lock:
                lock.release()
            raise
        return cls([first], target, lock, connect=connect, pool_size=pool_size)

    @property
    def logs_table(self) -> str:
        return self.target.table(LOGS_TABLE)

    @property
    def logs_table_name(self) -> str:
        """Unquoted name of the table rows are stored in (``logs_local`` on a cluster)."""
        return f"{LOGS_TABLE}_local" if self.target.cluster else LOGS_TABLE

    @contextmanager
    def client(self) -> Iterator[Client]:
        client = self._borrow()
        try:
            yield client
        finally:
            self._pool.put(client)

    def _borrow(self) -> Client:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._growing:
            if self._connect is not None and len(self._clients) < self._pool_size:
                client = self._connect()
                self._clients.append(client)
                return client
        return self._pool.get()

    def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> QueryResult:
        with self.client() as client:
            result = client.query(sql, parameters=dict(parameters or {}), settings=dict(settings or {}))
        return QueryResult(tuple(result.column_names), [tuple(row) for row in result.result_rows])

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        with self.client() as client:
            client.command(sql, parameters=dict(parameters or {}))

    def insert_columns(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        """Columnar insert of one batch: one INSERT, so a batch is stored whole or not at all."""
        names = list(columns)
        with self.client() as client:
            client.insert(
                table,
                [columns[name] for name in names],
                column_names=names,
                column_oriented=True,
            )

    def protobuf_schema_settings(self, name: str, schema: str, message: str) -> dict[str, Any]:
        """Settings that hand ClickHouse a protobuf schema for one insert.

        A server gets the schema inline. chDB would cache an inline schema in a ``__cache__`` folder of
        the process's working directory, so the embedded store reads it from a file in its data directory.
        """
        if self._lock is None:
            return {
                "format_schema_source": "string",
                "format_schema": schema,
                "format_schema_message_name": message,
            }
        path = self._lock.data_dir / "format_schemas" / f"{name}.proto"
        if path not in self._schemas_written:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(schema)
            self._schemas_written.add(path)
        return {"format_schema": f"{path.resolve()}:{message}"}

    def raw_insert(self, table: str, data: bytes, fmt: str, settings: Mapping[str, Any]) -> None:
        """One INSERT of ``data`` as it is, in ClickHouse input format ``fmt``."""
        with self.client() as client:
            client.raw_insert(table, insert_block=data, settings=dict(settings), fmt=fmt)

    def migrate(self) -> list[int]:
        """Apply pending schema migrations; returns the versions applied now. Idempotent."""
        for statement in bootstrap_statements(self.target):
            self.command(statement)
        applied = {
            row[0] for row in self.query(f"SELECT version FROM {self.target.table('schema_migrations')}").rows
        }
        done = []
        for version, name, migration in MIGRATIONS:
            if version in applied:
                continue
            for statement in migration(self.target):
                self.command(statement)
            self.command(
                f"INSERT INTO {self.target.table('schema_migrations')} (version, name) "
                "VALUES ({version:UInt32}, {name:String})",
                {"version": version, "name": name},
            )
            done.append(version)
        self._apply_retention()
        return done

    def _apply_retention(self) -> None:
        """Changes the TTL only when the retention setting changed: MODIFY TTL rewrites parts, which
        on a large table would make every start slow."""
        engine = self.query(
            "SELECT engine_full FROM system.tables "
            "WHERE database = {database:String} AND name = {name:String}",
            {"database": self.target.database, "name": self.logs_table_name},
        ).rows
        if engine and f"toIntervalDay({int(self.target.retention_days)})" not in engine[0][0]:
            statements = [retention_statement(self.target), *rollup_retention_statements(self.target)]
            with self.client() as client:
                for statement in statements:
                    client.command(statement, settings={"materialize_ttl_after_modify": 0})

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients = []
        if self._lock:
            self._lock.release()


def _connect(url: str, settings: dict[str, Any]) -> Client:
    if url.startswith("chdb://"):
        _import_chdb_without_pyarrow()
        return clickhouse_connect.get_client(dsn=url, settings=settings)
    return clickhouse_connect.get_client(dsn=url, autogenerate_session_id=False, settings=settings)


def _import_chdb_without_pyarrow() -> None:
    """chDB's connection module imports pyarrow (and numpy with it) when it is installed, ~0.3 s of every
    start, for Arrow result formats that this store never asks for: clickhouse-connect reads Native.
    chDB treats pyarrow as optional, so the import is made to fail while that module loads (for any
    thread: nothing else a start imports, next to the store opening in a thread, uses pyarrow)."""
    if "chdb.state" in sys.modules or "pyarrow" in sys.modules:
        return
    sys.modules["pyarrow"] = None  # type: ignore[assignment]  # None makes `import pyarrow` raise ImportError
    try:
        import chdb.state  # noqa: F401
    finally:
        del sys.modules["pyarrow"]
