"""Real engine processes for the crash and replica tests: log stores seeded by a process of their own
(chDB allows one data path per process), the state store the test reads and writes directly, the engine
run as ``logs-mcp alerts check`` or ``logs-mcp serve``, and a reading of what the engines committed.

Time is real: the seeded logs lie on the 5-minute grid before the seeding instant ``grid``, and the tests
make alerts due by writing past slots into ``next_check_at``, as if the alerts had last been checked then.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from logs_mcp.alerts.service import AlertService
from logs_mcp.alerts.windows import floor_to_grid
from logs_mcp.config import Settings
from logs_mcp.store import state as state_store
from logs_mcp.store.alert_tables import AlertDestination, AlertEventRow, AlertRow, NotificationRule
from logs_mcp.store.engine_store import OutboxRow
from logs_mcp.store.state import Project

FIVE_MINUTES = timedelta(minutes=5)
PROJECT_ID = 1
LOGS_MCP = str(Path(sys.executable).with_name("logs-mcp"))
WAIT_SECONDS = 60.0
BUCKETS = 24  # two hours of seeded logs

# Opens the log store as ``build_services`` does, stores one OTLP/JSON request from stdin, and exits; without
# the faces ``logs_mcp.app`` imports, which would triple the time this takes.
SEED_CODE = """
import sys
from pathlib import Path
from logs_mcp.config import Settings
from logs_mcp.logs.ingest import LogIngest
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.log_schema import SchemaTarget
settings = Settings(data_dir=Path(sys.argv[1]))
target = SchemaTarget(settings.clickhouse_database, settings.retention_days, settings.clickhouse_cluster)
store = LogStore.open(url=None, data_dir=settings.data_dir, target=target, pool_size=1)
try:
    store.migrate()
    ingest = LogIngest(store, settings.max_request_bytes)
    print(ingest.ingest(int(sys.argv[2]), sys.stdin.buffer.read(), "application/json"))
finally:
    store.close()
"""

T = TypeVar("T")


@dataclass(frozen=True)
class SeededLogs:
    """Log stores holding the same logs of project ``PROJECT_ID``, one per engine process:

    * service ``checkout``: 10 error logs in every 5-minute bucket of the two hours before ``grid``;
    * service ``flappy``: 2 error logs in the buckets ``[grid − 5j min, grid − 5(j−1) min)`` of even j,
      so a 1-of-1 alert on it (threshold 1) fires at the slots ``grid − 5k min`` of odd k and resolves at
      the even ones;
    * nothing for any other service.
    """

    data_dirs: tuple[Path, ...]
    grid: datetime

    def slot(self, k: int) -> datetime:
        """The slot k cadences before ``grid``."""
        return self.grid - k * FIVE_MINUTES

    @staticmethod
    def flappy_count(k: int) -> int:
        """The count of a ``flappy`` alert's window at ``slot(k)``: the bucket j = k + 1."""
        return 2 if (k + 1) % 2 == 0 else 0


def seed_log_stores(directory: Path, copies: int) -> SeededLogs:
    grid = floor_to_grid(datetime.now(UTC), FIVE_MINUTES)
    start = grid - BUCKETS * FIVE_MINUTES
    checkout = [start + timedelta(seconds=30 * index) for index in range(BUCKETS * 10)]
    flappy = [
        grid - j * FIVE_MINUTES + timedelta(minutes=minute)
        for j in range(2, BUCKETS + 1, 2)
        for minute in (1, 3)
    ]
    body = json.dumps(
        {"resourceLogs": [_resource_logs("checkout", checkout), _resource_logs("flappy", flappy)]}
    ).encode()
    data_dirs = tuple(directory / f"engine-{index}" for index in range(copies))

    def seed(data_dir: Path) -> None:
        stored = subprocess.run(
            [sys.executable, "-c", SEED_CODE, str(data_dir), str(PROJECT_ID)],
            input=body,
            capture_output=True,
            check=True,
            timeout=WAIT_SECONDS,
        )
        assert int(stored.stdout) == len(checkout) + len(flappy), stored.stderr

    # A copy of a seeded directory will not open (chDB keeps absolute paths), so each is seeded.
    with ThreadPoolExecutor(copies) as pool:
        list(pool.map(seed, data_dirs))
    return SeededLogs(data_dirs, grid)


def _resource_logs(service: str, instants: list[datetime]) -> dict[str, Any]:
    records = [
        {
            "timeUnixNano": str(int(at.timestamp()) * 10**9),
            "severityText": "ERROR",
            "body": {"stringValue": "x"},
        }
        for at in instants
    ]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return {"resource": resource, "scopeLogs": [{"logRecords": records}]}


# --- the state store, as the test sets it up and reads it back ------------------------------------------


@dataclass
class EngineState:
    """A migrated state store of the test's own (SQLite file or PostgreSQL schema) with project
    ``PROJECT_ID``; ``url`` is what the engine processes are given."""

    engine: Engine
    url: str

    def __post_init__(self) -> None:
        state_store.upgrade(self.engine)
        with Session(self.engine) as session:
            session.add(Project(id=PROJECT_ID, name="engine processes", ingestion_token=uuid.uuid4().hex))
            session.commit()
        settings = Settings(alerts_uncapped_project_ids=frozenset({PROJECT_ID}))
        self.alerts = AlertService(self.engine, settings)

    def create_alerts(self, count: int, service: str, webhook_url: str, **fields: Any) -> list[uuid.UUID]:
        """``count`` alerts on ``service``'s error logs, each with a webhook destination (one rule per
        kind)."""
        payload = {"filters": {"serviceNames": [service]}, "threshold_count": 1} | fields
        ids = [self.alerts.create(PROJECT_ID, payload, created_by_key_id=None).id for _ in range(count)]
        with Session(self.engine) as session:
            for alert_id in ids:
                destination = AlertDestination(alert_id=alert_id, type="webhook")
                session.add(destination)
                session.flush()
                session.add_all(
                    NotificationRule(
                        destination_id=destination.id,
                        alert_id=alert_id,
                        kind=kind,
                        type="webhook",
                        config={"webhook_url": webhook_url},
                        webhook_secret="s3cret",
                    )
                    for kind in ("firing", "resolved", "broken", "errored")
                )
            session.commit()
        return ids

    def make_due(self, alert_ids: list[uuid.UUID], slot: datetime) -> None:
        """Put the alerts' next slot at ``slot`` (in the past: due now) without an edit (no version bump),
        as if their last check had scheduled it."""
        alerts = AlertRow.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as connection:
            connection.execute(sa.update(alerts).where(alerts.c.id.in_(alert_ids)).values(next_check_at=slot))

    def alerts_rows(self) -> dict[uuid.UUID, AlertRow]:
        with Session(self.engine) as session:
            return {row.id: row for row in session.exec(select(AlertRow))}

    def checks(self) -> dict[uuid.UUID, list[AlertEventRow]]:
        """Every alert's check rows, oldest first."""
        query = (
            select(AlertEventRow).where(AlertEventRow.kind == "check").order_by(col(AlertEventRow.created_at))
        )
        found: dict[uuid.UUID, list[AlertEventRow]] = {}
        with Session(self.engine) as session:
            for row in session.exec(query):
                found.setdefault(row.alert_id, []).append(row)
        return found

    def outbox(self) -> list[OutboxRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(OutboxRow).order_by(col(OutboxRow.created_at))))

    def claimed_by(self) -> set[str]:
        with Session(self.engine) as session:
            claims = select(AlertRow.claimed_by).where(col(AlertRow.claimed_by).is_not(None)).distinct()
            return {worker for worker in session.exec(claims) if worker is not None}


# --- engine processes -------------------------------------------------------------------------------------


def engine_env(state_url: str, **settings: object) -> dict[str, str]:
    """The environment of an engine process: no LOGS_MCP_* of the caller's, the state store, local
    receivers allowed, and ``settings`` as LOGS_MCP_<NAME> variables."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOGS_MCP_")}
    env |= {"LOGS_MCP_DATABASE_URL": state_url, "LOGS_MCP_ALLOW_PRIVATE_WEBHOOKS": "true"}
    env |= {f"LOGS_MCP_{name.upper()}": str(value) for name, value in settings.items()}
    return env


def start_check(data_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``logs-mcp alerts check --json``: one check cycle and one delivery pass."""
    return subprocess.Popen(
        [LOGS_MCP, "alerts", "check", "--json", "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run_check(data_dir: Path, env: dict[str, str]) -> dict[str, int]:
    process = start_check(data_dir, env)
    stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == 0, stderr.decode()
    summary: dict[str, int] = json.loads(stdout)
    return summary


@contextmanager
def serving(data_dirs: Sequence[Path], env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One ``logs-mcp serve`` (with its check loop and deliverer) per data directory, started side by side,
    ready once each answers ``/healthz``; stopped like Ctrl-C when the block ends."""
    ports = [free_port() for _ in data_dirs]
    processes = [
        subprocess.Popen(
            [LOGS_MCP, "serve", "--no-demo", "--port", str(port), "--data-dir", str(data_dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port, data_dir in zip(ports, data_dirs, strict=True)
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_for(lambda port=port: _healthy(port), f"logs-mcp serve on port {port}", process)
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no clean-up of any kind runs in the engine."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=WAIT_SECONDS)
    assert process.returncode == -signal.SIGKILL


def wait_for(condition: Callable[[], T], what: str, process: subprocess.Popen[bytes] | None = None) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after WAIT_SECONDS or
    when ``process`` exits first."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise AssertionError(f"engine exited ({process.returncode}) before {what}: {_stderr(process)}")
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _stderr(process: subprocess.Popen[bytes]) -> str:
    return process.stderr.read().decode()[-2000:] if process.stderr else ""


def worker_pid(worker: str) -> int:
    """The process id in an engine worker name (``host:pid:suffix``)."""
    return int(worker.split(":")[1])


def assert_each_notification_delivered_once(state: EngineState, delivered_keys: list[str]) -> None:
    """Every committed notification delivered, each answered 200 exactly once, under the key it was
    committed with; the receiver never saw a key the outbox does not hold."""
    outbox = state.outbox()
    assert all(row.idempotency_key == str(row.id) for row in outbox)
    assert [row.status for row in outbox] == ["delivered"] * len(outbox)
    assert sorted(delivered_keys) == sorted(row.idempotency_key for row in outbox)
