"""The check engine at scale: 1,000 and 10,000 enabled alerts over the 10M bench log rows, checked by the
alert workers of ``logs-mcp serve`` (check loop and deliverer, ``runner.AlertWorkers``) in this process,
delivering to a healthy local webhook receiver in a process of its own.

    .venv/bin/python bench/engine.py [--alerts 1000 10000] [--rows 10000000] [--database-url URL]

Logs: the rows of bench/_common.py (one week ending at ``end``, projects 1–3), copied into
bench/.data-engine/ by bench/_engine_store.py. State: a fresh SQLite file, or a fresh schema of the
PostgreSQL at ``--database-url``. Alerts: every window (5–60 min) × M/N (1/1, 3/2, 5/3, 10/3) × five filter
shapes (severities; a service; a service's errors; an attribute equal to a value; a body substring), spread
over 10 projects (7 of them without logs); one in ten has threshold 0 and a webhook destination, so it
fires when its windows hold any log, the others never fire. ``--distinct-filters``: every alert filters on
an attribute value or a body term of its own instead (none shared, none answered by the per-minute counts:
the count statements' worst case).

Each run checks two consecutive slots: every alert due at the slot ``end`` floored to 5 minutes, minus 5
minutes (a cold cycle: fresh store, first checks), then the next slot, as the engine scheduled it. The
clock is the wall clock shifted so that each cycle starts on its slot: evaluation lag (slot → the check's
commit) is then the time the cycle takes to reach an alert; a live loop adds up to one tick (60 s).
Delivery latency is the commit of a notification's batch to the receiver's 200 (the target's measure), and
from the outbox row's ``enqueued_at`` (stamped just before the batch's save starts) to the 200.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import anyio
import anyio.to_thread
import sqlalchemy as sa
from _engine_store import open_engine_store
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from logs_mcp.alerts.engine import CheckEngine, CycleReport
from logs_mcp.alerts.models import parse_alert_filters
from logs_mcp.alerts.notifiers.notifier import Notifier
from logs_mcp.alerts.outbox import OutboxDeliverer
from logs_mcp.alerts.runner import AlertWorkers, notifier_delivery
from logs_mcp.alerts.windows import floor_to_grid
from logs_mcp.config import Settings
from logs_mcp.store import state as state_store
from logs_mcp.store.alert_tables import AlertDestination, AlertRow, NotificationRule
from logs_mcp.store.clickhouse import LogStore, QueryResult
from logs_mcp.store.engine_store import ClaimedDelivery, DeliveryLease, OutboxRow
from logs_mcp.store.state import Project, utcnow

FIVE_MINUTES = timedelta(minutes=5)
PROJECTS = (1, 1, 1, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # weighted; 4–10 hold no logs
WINDOWS = (5, 10, 15, 30, 60)
PERIODS = ((1, 1), (3, 2), (5, 3), (10, 3))  # (M, N)
SERVICES = ("frontend", "api-gateway", "search", "cart", "auth", "checkout", "inventory", "payments")
FIRING_EVERY = 10  # one alert in ten fires (threshold 0) and has a webhook destination

# The healthy receiver: an asyncio server (aiohttp's), as a webhook endpoint in production would be. It runs
# on the same two cores as the engine, so its CPU per request is part of what is measured: http.server's
# ThreadingHTTPServer (a thread per connection) spent ~0.5 ms a request and set the tail of bursts of ~100.
RECEIVER_CODE = """
import socket
from aiohttp import web

async def hook(request):
    await request.read()
    return web.Response(status=200)

app = web.Application()
app.router.add_post("/hook", hook)
listener = socket.create_server(("127.0.0.1", 0), backlog=256)
print(listener.getsockname()[1], flush=True)
web.run_app(app, sock=listener, print=None, access_log=None)
"""


def filters_of(index: int, distinct: bool = False) -> dict[str, Any]:
    """The alert's filters; ``distinct``: an attribute value or body term of its own (the worst case of the
    count statements: every alert's condition is matched against the rows, none shared)."""
    service = SERVICES[index % len(SERVICES)]
    shape = 3 + index % 2 if distinct else index // len(SERVICES) % 5
    if shape == 0:
        return {"severityLevels": ["error", "fatal"]}
    if shape == 1:
        return {"serviceNames": [service]}
    if shape == 2:
        return {"serviceNames": [service], "severityLevels": ["error", "warn"]}
    condition = (
        {
            "key": "http.status_code",
            "value": f"{503 + index}" if distinct else "503",
            "operator": "exact",
            "type": "log_attribute",
        }
        if shape == 3
        else {
            "key": "message",
            "value": f"timeout{index}" if distinct else "timeout",
            "operator": "icontains",
            "type": "log",
        }
    )
    return {"filterGroup": {"type": "AND", "values": [{"type": "AND", "values": [condition]}]}}


def seed_alerts(engine: Engine, count: int, slot: datetime, webhook_url: str, distinct: bool = False) -> None:
    """``count`` enabled alerts due at ``slot``, rows as the alert service writes them."""
    now = utcnow()
    shapes = itertools.cycle(itertools.product(WINDOWS, PERIODS))
    alerts, destinations, rules = [], [], []
    for index in range(count):
        window, (periods, datapoints) = next(shapes)
        filters = filters_of(index, distinct)
        parse_alert_filters(filters)  # valid, as the API would have checked
        firing = index % FIRING_EVERY == 0
        alert = AlertRow(
            project_id=PROJECTS[index % len(PROJECTS)],
            name=f"bench alert {index}",
            enabled=True,
            filters=filters,
            threshold_count=0 if firing else 1_000_000_000,
            threshold_operator="above",
            window_minutes=window,
            check_interval_minutes=5,
            state="not_firing",
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints,
            cooldown_minutes=0,
            next_check_at=slot,
            first_enabled_at=now,
            created_at=now,
        )
        alerts.append(alert)
        if firing:
            destination = AlertDestination(alert_id=alert.id, type="webhook")
            destinations.append(destination)
            rules += [
                NotificationRule(
                    destination_id=destination.id,
                    alert_id=alert.id,
                    kind=kind,
                    type="webhook",
                    config={"webhook_url": webhook_url},
                    webhook_secret="bench",
                )
                for kind in ("firing", "resolved", "broken", "errored")
            ]
    projects = [
        Project(id=project_id, name=f"bench {project_id}", ingestion_token=uuid.uuid4().hex)
        for project_id in sorted(set(PROJECTS))
    ]
    with Session(engine) as session:
        for rows in (projects, alerts, destinations, rules):  # parents first: no ORM relationships
            session.add_all(rows)
            session.flush()
        session.commit()


@contextmanager
def fresh_state(database_url: str | None) -> Iterator[Engine]:
    """A migrated, empty state store: a SQLite file, or a schema of its own on PostgreSQL."""
    if database_url is None:
        with tempfile.TemporaryDirectory() as directory:
            engine = state_store.open_engine(f"sqlite:///{directory}/state.db")
            yield engine
            engine.dispose()
        return
    schema = f"logs_mcp_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(database_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = state_store.open_engine(scoped.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class ShiftedClock:
    """The wall clock moved by ``offset``: set so that a cycle starts on its slot."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def start_at(self, instant: datetime) -> None:
        self.offset = instant - datetime.now(UTC)


@dataclass
class CycleFigures:
    seconds: float = 0.0
    report: CycleReport = field(default_factory=CycleReport)
    sql_statements: int = 0
    clickhouse_seconds: float = 0.0


class MeasuredEngine(CheckEngine):
    """The check engine, timing its cycles and counting the state-store statements each one runs."""

    figures: CycleFigures | None = None

    def run_cycle(self, stop: threading.Event | None = None) -> CycleReport:
        figures = CycleFigures()
        cycle_thread = threading.get_ident()

        def count_statement(*_args: object) -> None:
            if threading.get_ident() == cycle_thread:
                figures.sql_statements += 1

        sa.event.listen(self._state, "before_cursor_execute", count_statement)
        started = time.perf_counter()
        try:
            figures.report = super().run_cycle(stop)
        finally:
            figures.seconds = time.perf_counter() - started
            sa.event.remove(self._state, "before_cursor_execute", count_statement)
        self.figures = figures
        return figures.report


@dataclass
class TimedHandOver:
    """The alert workers' hand-over, noting when each save that notified committed."""

    workers: AlertWorkers
    clock: ShiftedClock
    commits: list[datetime]

    def lease(self) -> DeliveryLease | None:
        return self.workers.lease()

    def committed(self, leased: list[ClaimedDelivery]) -> None:
        self.commits.append(self.clock())
        self.workers.committed(leased)


def timed_queries(store: LogStore, figures: list[float]) -> None:
    """Sum the time the store spends in ClickHouse queries into ``figures[0]``."""
    query = store.query

    def timed(sql: str, parameters: Any = None, settings: Any = None) -> QueryResult:
        started = time.perf_counter()
        try:
            return query(sql, parameters, settings)
        finally:
            figures[0] += time.perf_counter() - started

    store.query = timed  # type: ignore[method-assign]


async def run_one_cycle(
    store: LogStore, state: Engine, settings: Settings, clock: ShiftedClock
) -> tuple[CycleFigures, list[float], list[float]]:
    """The alert workers until one check cycle has run and every notification it committed is delivered;
    returns the cycle's figures and the delivery latencies (seconds) of its notifications, from their
    batch's commit and from their enqueueing."""
    started = clock()
    engine = MeasuredEngine(state, store, settings, clock=clock)
    commits: list[datetime] = []
    async with Notifier(settings) as notifier:
        deliver = notifier_delivery(notifier)
        deliverer = OutboxDeliverer(state, settings, deliver, clock=clock, worker=engine.worker)
        workers = AlertWorkers(engine, deliverer, settings.check_tick_seconds, settings.delivery_poll_seconds)

        engine.hand_over = TimedHandOver(workers, clock, commits)  # AlertWorkers.of hands over to workers
        async with anyio.create_task_group() as group:
            group.start_soon(workers.run)
            while engine.figures is None or await anyio.to_thread.run_sync(_undelivered, state):
                await anyio.sleep(0.05)
            group.cancel_scope.cancel()
    assert engine.figures is not None
    with Session(state) as session:
        rows = session.exec(select(OutboxRow).where(col(OutboxRow.created_at) >= started)).all()
    delivered = [row for row in rows if row.delivered_at]
    from_commit = [
        (row.delivered_at - min(at for at in commits if at >= row.created_at)).total_seconds()
        for row in delivered
    ]
    from_enqueue = [(row.delivered_at - row.created_at).total_seconds() for row in delivered]
    return engine.figures, from_commit, from_enqueue


def _undelivered(state: Engine) -> int:
    with Session(state) as session:
        query = select(sa.func.count()).select_from(OutboxRow).where(col(OutboxRow.status) != "delivered")
        return session.exec(query).one()


def warm_up(url: str) -> None:
    """A few requests first, so the receiver is warm like a long-running endpoint: its first requests
    import and build what its request handling needs."""
    for _ in range(3):
        with urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST")) as response:
            response.read()


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def ms(seconds: list[float], share: float) -> float:
    return percentile(seconds, share) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL for the state store [SQLite]")
    parser.add_argument(
        "--distinct-filters", action="store_true", help="every alert's own body/attribute term"
    )
    args = parser.parse_args()

    store, dataset = open_engine_store(args.rows)
    clickhouse = [0.0]
    timed_queries(store, clickhouse)
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER_CODE], stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    webhook_url = f"http://127.0.0.1:{receiver.stdout.readline().strip()}/hook"
    warm_up(webhook_url)
    settings = Settings(allow_private_webhooks=True, data_dir=Path(tempfile.gettempdir()))
    last_slot = floor_to_grid(dataset.end, FIVE_MINUTES)
    store_name = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{args.rows:,} log rows in [{dataset.start:%Y-%m-%d %H:%M}, {dataset.end:%Y-%m-%d %H:%M}) UTC; "
        f"state in {store_name}; slots {last_slot - FIVE_MINUTES:%H:%M} and {last_slot:%H:%M}"
    )
    header = (
        f"{'alerts':>7} {'cycle':>5} {'seconds':>8} {'CH s':>6} {'CH q':>5} {'SQL':>5} {'checked':>8} "
        f"{'fired':>6} {'lag p50':>8} {'lag p99':>8} {'sent':>5} {'deliv p50 ms':>12} {'p99 ms':>7} "
        f"{'from enqueue p50':>16} {'p99 ms':>7} {'load':>5}"
    )
    print(header)
    try:
        for count in args.alerts:
            with fresh_state(args.database_url) as state:
                seed_alerts(state, count, last_slot - FIVE_MINUTES, webhook_url, args.distinct_filters)
                for cycle, slot in enumerate((last_slot - FIVE_MINUTES, last_slot), start=1):
                    clock = ShiftedClock()
                    clock.start_at(slot)
                    clickhouse[0] = 0.0
                    # What is alive now is long-lived, as `logs-mcp serve` freezes its start-up objects
                    # (cli.starting): otherwise each full collection rescans them, 80-300 ms with the GIL.
                    gc.collect()
                    gc.freeze()
                    figures, latencies, queued = anyio.run(run_one_cycle, store, state, settings, clock)
                    report = figures.report
                    lags = report.lags_seconds
                    print(
                        f"{count:7,} {cycle:5} {figures.seconds:8.2f} {clickhouse[0]:6.2f} "
                        f"{report.queries:5} {figures.sql_statements:5} {report.checked:8,} "
                        f"{report.fired + report.resolved:6} "
                        f"{percentile(lags, 0.5):8.2f} {percentile(lags, 0.99):8.2f} {len(latencies):5} "
                        f"{ms(latencies, 0.5):12.1f} {ms(latencies, 0.99):7.1f} "
                        f"{ms(queued, 0.5):16.1f} {ms(queued, 0.99):7.1f} "
                        f"{os.getloadavg()[0]:5.2f}"
                    )
    finally:
        receiver.kill()
        store.close()


if __name__ == "__main__":
    main()
